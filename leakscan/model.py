"""The data that flows through leakscan: blobs with provenance, matches, findings.

Pure values, no I/O. Sources produce :class:`Blob` objects; the engine turns the bytes of a
blob into :class:`Match` objects; ``findings`` groups matches by (rule, secret) into
:class:`Finding` objects, each holding every :class:`Location` where the secret was seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import IO, Any

from leakscan.locations import json_of

CONFIDENCES = ("low", "medium", "high")
SEVERITIES = ("low", "medium", "high", "critical")


def rank(value: str, scale: tuple[str, ...]) -> int:
    """Position of ``value`` on a scale (``low`` < ``medium`` < ...)."""
    return scale.index(value)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a blob lives. ``kind`` names the source kind and ``fields`` its details.

    ``fields`` become the keys of a location in the JSON report, next to ``kind``, e.g.
    ``Provenance("image-layer", {"image": "app:1", "layer_digest": "sha256:..",
    "layer_index": 3, "created_by": "COPY . /app", "path": "app/.env", "state": "deleted",
    "deleted_in_layer": 5})`` or ``Provenance("file", {"path": "k8s/secret.yaml"})``.

    ``line`` is set when the blob is one structured value found at a known line of a larger
    file (a decoded Kubernetes Secret value, an env entry): matches inside it are then reported
    at that line. ``vendor`` marks content that a package database vouches for (unmodified
    vendor files): its findings are ranked low, never hidden.
    """

    kind: str
    fields: Mapping[str, Any]
    line: int | None = None
    vendor: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = json_of(self)
        if self.vendor:
            out["vendor"] = True
        return out


@dataclass(frozen=True, slots=True)
class Blob:
    """The content of one file or one structured value, and where it came from.

    Exactly one of ``data`` (content in memory), ``stream`` (a file object the consumer reads
    to its end *before the source advances*; used for large files, scanned in overlapping
    windows) or ``digest`` alone (content already scanned earlier in this run, e.g. a file of
    a layer shared by two images: its matches are re-attached, the bytes are not read again)
    is the content.

    ``digest`` is the content key (``sha256:<hex>`` of the bytes, or ``git:<blob id>``); when
    absent the scanner computes it. ``context`` is the key name of a structured value
    (``DB_PASSWORD``, a Secret's data key): it lets generic detectors judge a bare value.
    ``text`` is the whole text when ``data`` holds only part of its lines (a git blob's
    changed lines, the rest blanked): allow comments are looked for in it, so a marker on
    the unchanged line above a changed one still counts. ``lines`` (1-based), when given,
    are the only lines whose matches are this blob's: the others are context scanned before.

    ``matches``: the content was scanned where the source read it (a process it forked, with
    :attr:`~leakscan.sources.interface.ScanContext.scan`); these are its matches on its own
    lines, ``digest`` its content key, ``size`` the bytes scanned, ``text`` (when there are
    matches) the text allow comments are looked for in. ``data`` and ``stream`` are then None.
    """

    provenance: Provenance
    data: bytes | None = None
    stream: IO[bytes] | None = None
    size: int | None = None
    digest: str | None = None
    context: str | None = None
    text: bytes | None = None
    lines: frozenset[int] | None = None
    matches: tuple[Match, ...] | None = None


@dataclass(frozen=True, slots=True)
class Skip:
    """Something that was not scanned (or not completely), and why. A value, not an exception.

    ``error``: the part failed (a corrupt layer): the run goes on with the rest and still
    ends with exit code 2, the failure listed among the errors as well."""

    where: str
    reason: str
    error: bool = False

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Match:
    """One secret found in one blob's content (positions relative to that content)."""

    rule_id: str
    secret: str
    line: int
    column: int
    confidence: str
    severity: str
    # how the content was decoded before the match, outermost first (e.g. ("base64",))
    decoded: tuple[str, ...] = ()
    context: str | None = None
    # a redacted preview that says more than the secret alone (``postgres://app:…@db``)
    preview: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """One place a finding was seen: a provenance plus the line and column in it."""

    provenance: Provenance
    line: int | None = None
    column: int | None = None
    decoded: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = self.provenance.to_dict()
        if self.line is not None:
            out["line"] = self.line
        if self.column is not None:
            out["column"] = self.column
        if self.decoded:
            out["decoded"] = list(self.decoded)
        return out


@dataclass(frozen=True, slots=True)
class Validation:
    """What the provider said of a finding's secret (``leakscan --validate``): ``status`` is
    valid, invalid, error or unsupported; ``identity`` whose it is; never the secret."""

    status: str
    checked_at: str
    identity: str | None = None
    provider: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "identity": self.identity,
            "checked_at": self.checked_at,
        }
        if self.provider:
            out["provider"] = self.provider
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class Finding:
    """One secret (by fingerprint of rule and value) and every location it was seen at."""

    fingerprint: str
    rule_id: str
    rule_name: str
    severity: str
    confidence: str
    redacted: str
    secret: str | None
    locations: list[Location] = field(default_factory=list)
    # digests of the secret and of its base64 form (keyed like the fingerprint): what caches
    # keep, so that findings restored without the secret still merge as fresh ones do
    secret_digest: str | None = None
    encoded_digest: str | None = None
    validation: Validation | None = None  # set only when validation was asked for

    def to_dict(self, show_secret: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "severity": self.severity,
            "confidence": self.confidence,
            "redacted": self.redacted,
        }
        if show_secret and self.secret is not None:
            out["secret"] = self.secret
        out["locations"] = [loc.to_dict() for loc in self.locations]
        if self.validation is not None:
            out["validation"] = self.validation.to_dict()
        return out


@dataclass(slots=True)
class Stats:
    blobs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    cached_blobs: int = 0
    layers_scanned: int = 0
    layers_reused: int = 0
    below_min_confidence: int = 0  # findings made and left out by --min-confidence

    def to_dict(self) -> dict[str, Any]:
        """Every counter (subclasses' too), seconds rounded to milliseconds."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding]
    skipped: list[Skip]
    stats: Stats
    errors: list[str] = field(default_factory=list)
    rules_digest: str = ""
    # additional top-level keys for the JSON document (e.g. "baseline"), added by policy hooks
    extra: dict[str, Any] = field(default_factory=dict)
    # rule id -> the provider documentation it cites (reports link each rule to it)
    rule_references: dict[str, tuple[str, ...]] = field(default_factory=dict)
