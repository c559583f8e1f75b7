"""Redacted previews of secrets: ``ghp_…Xy2A``."""

from __future__ import annotations

import regex

# a token's type prefix (ghp_, xoxb-, sk-proj-, AKIA, AIza, SG.): shown, it says what leaked
_PREFIX = regex.compile(
    r"^(?:[A-Za-z0-9]{1,12}[_-](?:[A-Za-z0-9]{1,6}[_-])?|AKIA|ASIA|ABIA|ACCA|AIza|SG\.|eyJ)"
)


def redact(secret: str) -> str:
    if "\n" in secret:  # a key block: its first line says what it is
        first = secret.strip().splitlines()[0]
        return first[:64] + "…"
    if len(secret) < 8:
        return "…" * 1 + "*" * 3
    prefix_match = _PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    if len(prefix) > len(secret) // 2:
        prefix = ""
    tail = 4 if len(secret) >= 16 else 2
    return f"{prefix}…{secret[-tail:]}"
