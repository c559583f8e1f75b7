"""Checksums of token formats that carry one. A verifier returns True when it holds."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CHECK_WIDTH = 6  # base62 characters of a 32-bit CRC


def base62(value: int, width: int) -> str:
    out = ""
    while value:
        value, rem = divmod(value, 62)
        out = BASE62[rem] + out
    return out.rjust(width, "0")


def crc32_base62_suffix(token: str, width: int = CHECK_WIDTH) -> bool:
    """GitHub's token format (shared by npm): ``prefix_`` + random + ``base62(crc32(random))``.

    The CRC32 is taken over the random part alone, the characters between the prefix's
    ``_`` and the last ``width`` characters, and written in base62, zero-padded to ``width``
    (GitHub's engineering blog, "Behind GitHub's new authentication token formats", 2021;
    npm adopted the same format the same year).
    """
    prefix, sep, rest = token.partition("_")
    if not sep or not prefix or len(rest) <= width:
        return False
    body, check = rest[:-width], rest[-width:]
    return base62(zlib.crc32(body.encode()), width) == check


def github(token: str) -> bool:
    # fine-grained PATs (github_pat_) carry no public checksum scheme; they pass
    if token.startswith("github_pat_"):
        return True
    return crc32_base62_suffix(token)


def npm(token: str) -> bool:
    return crc32_base62_suffix(token)


CONFLUENT_PREFIX = "cflt"
CONFLUENT_BODY = 54  # characters between the prefix and the checksum
CONFLUENT_CHECK = 6  # base64 characters of a 32-bit CRC, without the "==" padding


def confluent(token: str) -> bool:
    """Confluent Cloud API secrets created since 30 July 2025: ``cflt`` + 54 characters of
    ``[A-Za-z0-9+/]`` + 6 characters that are the CRC32 of those 54, as 4 little-endian bytes
    in standard base64 with the padding dropped (Confluent's "API key format" page; its
    example secret checks this way and no other).
    """
    if not token.startswith(CONFLUENT_PREFIX):
        return False
    rest = token[len(CONFLUENT_PREFIX) :]
    if len(rest) != CONFLUENT_BODY + CONFLUENT_CHECK:
        return False
    body, check = rest[:CONFLUENT_BODY], rest[CONFLUENT_BODY:]
    crc = zlib.crc32(body.encode()).to_bytes(4, "little")
    return base64.b64encode(crc)[:CONFLUENT_CHECK].decode() == check


VERIFIERS: dict[str, Callable[[str], bool]] = {
    "github": github,
    "npm": npm,
    "confluent": confluent,
}


def verify(name: str, token: str) -> bool:
    """Whether ``token`` passes the named checksum (unknown names never pass)."""
    fn = VERIFIERS.get(name)
    return fn(token) if fn else False
