"""A rule as an immutable, validated value. No matching happens here."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from leakscan.model import CONFIDENCES, SEVERITIES


@dataclass(frozen=True, slots=True)
class Example:
    """A positive example: ``text`` must yield ``secret`` through the whole detector."""

    text: str
    secret: str
    context: str | None = None  # key name given to the detector (structured sources)

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self)


@dataclass(frozen=True, slots=True)
class NegativeExample:
    """Text in which this rule must find nothing."""

    text: str
    context: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self)


@dataclass(frozen=True, slots=True)
class Rule:
    """One detector.

    ``pattern`` is in the ``regex`` module's syntax; ``secret_group`` is the group that is
    the secret (a number or a name; 0 = the whole match). ``keywords`` are literals of which at
    least one occurs near every match (case-insensitive); they prefilter rules Hyperscan
    cannot compile. ``entropy`` is the minimum Shannon entropy (bits per character) of the
    secret. ``checksum`` names a verifier in ``leakscan.engine.checksums``: a passing checksum
    keeps the rule's confidence; a failing one drops the match. ``context`` is a regex on the
    key name of structured values: a rule with a ``context`` is not run over plain text at
    all, only over structured values (an env entry, a manifest key's value, a Secret's decoded
    data) whose key name matches it; its pattern sees the bare value. ``max_length`` bounds
    how far back from a hit's end the precise match may start. ``prefilter`` (optional) is
    what the one Hyperscan pass looks for instead of ``pattern``: a cheaper superset that
    matches wherever ``pattern`` does, for patterns without a literal for Hyperscan to anchor
    on (``[A-Za-z0-9]{64}_…``, a line-start host name), which would slow the pass for every
    blob; ``pattern`` still decides around each hit.
    """

    id: str
    name: str
    pattern: str
    keywords: tuple[str, ...]
    secret_group: int | str = 1
    entropy: float = 0.0
    confidence: str = "medium"
    severity: str = "high"
    checksum: str | None = None
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    ignore_case: bool = False
    multiline_secret: bool = False  # the secret may span lines (private keys)
    max_length: int = 1024
    context: str | None = None
    allow: tuple[str, ...] = ()  # regexes: a secret matching any of these is not a finding
    prefilter: str | None = None  # the Hyperscan pass's cheaper superset of ``pattern``
    examples: tuple[Example, ...] = ()
    negative_examples: tuple[NegativeExample, ...] = ()
    source: str = ""  # the file the rule was loaded from

    def __post_init__(self) -> None:
        assert self.confidence in CONFIDENCES
        assert self.severity in SEVERITIES

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self)


def _reduce(value: Any) -> tuple[Any, ...]:
    """Pickled as a call with the fields in order: a scan unpickles the cached rules (~3,500
    values with their examples), and one ``__init__`` call each is quicker than dataclasses'
    field-by-field ``__setstate__``."""
    return type(value), tuple(getattr(value, f.name) for f in fields(value))
