"""Shannon entropy of candidate secrets, through truffleHog3's implementation."""

from __future__ import annotations

import string

from trufflehog3.helper import shannon_entropy

BASE64_ALPHABET = string.ascii_letters + string.digits + "+/=-_"
HEX_ALPHABET = string.hexdigits
PRINTABLE_ALPHABET = string.printable


def entropy(secret: str) -> float:
    """Bits per character over printable ASCII (what per-rule floors are measured in)."""
    return shannon_entropy(secret, PRINTABLE_ALPHABET)


def base64_entropy(secret: str) -> float:
    return shannon_entropy(secret, BASE64_ALPHABET)


def hex_entropy(secret: str) -> float:
    return shannon_entropy(secret, HEX_ALPHABET)
