"""Shannon entropy of candidate secrets, through truffleHog3's implementation."""

from __future__ import annotations

import logging
import string

# importing trufflehog3 renames the logging levels to ANSI-coloured "[D]", "[I]"... for the
# whole process (its package __init__ sets up its own logger): keep leakscan's "DEBUG" etc.
_LEVEL_NAMES = {
    level: logging.getLevelName(level)
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}
from trufflehog3.helper import shannon_entropy  # noqa: E402

for _level, _name in _LEVEL_NAMES.items():
    logging.addLevelName(_level, _name)

PRINTABLE_ALPHABET = string.printable


def entropy(secret: str) -> float:
    """Bits per character over printable ASCII (what per-rule floors are measured in)."""
    return float(shannon_entropy(secret, PRINTABLE_ALPHABET))
