"""What manifest parsers produce: key/value pairs of interest, and problems."""

from __future__ import annotations

import re
from dataclasses import dataclass

# key names whose values are worth a look in generic config files (JSON/YAML/TOML/INI, Helm
# values); the engine's context rules decide what is a secret
SECRETISH_KEY = re.compile(
    r"(?i)(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|client[_-]?key|app[_-]?key|application[_-]?key|master[_-]?key|"
    r"credential|auth|bearer|session[_-]?key|signing[_-]?key|"
    r"encryption[_-]?key|conn(ection)?[_-]?str(ing)?|dsn|webhook)"
)


@dataclass(frozen=True, slots=True)
class Pair:
    """One value of interest: ``name`` is what the detectors get as context (the key name, or
    the full key path in generic config files),
    ``path`` the key's full path in the file, ``line`` the key's 1-based line."""

    name: str
    path: str
    value: bytes
    line: int
    kind: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A part of a file that could not be read structurally (the rest goes on)."""

    reason: str
    path: str | None = None  # the key concerned, when there is one


def literal(value: str | None) -> bool:
    """A value worth yielding: not null, not empty (the engine filters other placeholders)."""
    return value is not None and value.strip() not in ("", "~", '""', "''")


def secretish(key: str) -> bool:
    return bool(SECRETISH_KEY.search(key))


def utf8(text: str | None) -> bytes:
    """A value's bytes (lone surrogates from JSON escapes become U+FFFD)."""
    return (text or "").encode("utf-8", "replace")
