"""Checksums of token formats that carry one. A verifier returns True when it holds."""

from __future__ import annotations

import zlib
from collections.abc import Callable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(value: int, width: int) -> str:
    out = ""
    while value:
        value, rem = divmod(value, 62)
        out = BASE62[rem] + out
    return out.rjust(width, "0")


def crc32_base62_suffix(token: str, width: int = 6) -> bool:
    """GitHub-style tokens: ``prefix_`` + random + base62(crc32(prefix_ + random)) (6 chars)."""
    if len(token) <= width:
        return False
    body, check = token[:-width], token[-width:]
    return base62(zlib.crc32(body.encode()), width) == check


def github(token: str) -> bool:
    # fine-grained PATs (github_pat_) carry no public checksum scheme; they pass
    if token.startswith("github_pat_"):
        return True
    return crc32_base62_suffix(token)


def npm(token: str) -> bool:
    return crc32_base62_suffix(token)


VERIFIERS: dict[str, Callable[[str], bool]] = {"github": github, "npm": npm}


def verify(name: str, token: str) -> bool:
    """Whether ``token`` passes the named checksum (unknown names never pass)."""
    fn = VERIFIERS.get(name)
    return fn(token) if fn else False
