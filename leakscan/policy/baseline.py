"""A baseline of accepted findings: made once, it keeps them out of later reports.

The file (``.leakscan-baseline.json``) holds, per accepted finding, its fingerprint, rule id,
redacted value and locations; never a secret. An entry matches a finding by fingerprint, or,
for entries without one (imported from a ``.gitleaksignore``), by location: same path (one
ending with the other), same line, same commit when both have one, and a rule that agrees
(gitleaks rule ids do not map onto leakscan's, so an entry whose rule is not a leakscan rule id
accepts any finding at that place). Entries that match nothing in a run are *stale*.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakscan import __version__
from leakscan.errors import UsageError
from leakscan.locations import location_of
from leakscan.model import Finding, Location, ScanResult, Skip

log = logging.getLogger(__name__)

BASELINE_VERSION = 1
DEFAULT_NAME = ".leakscan-baseline.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BaselineError(UsageError):
    """The baseline file cannot be read or is not a leakscan baseline."""


@dataclass(slots=True)
class Entry:
    fingerprint: str | None = None
    rule_id: str | None = None
    redacted: str | None = None
    locations: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None  # "gitleaksignore" for imported entries

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("fingerprint", "rule_id", "redacted"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["locations"] = self.locations
        if self.source:
            out["source"] = self.source
        return out

    def describe(self) -> str:
        where = ", ".join(_loc_text(loc) for loc in self.locations[:3]) or "no location"
        what = self.rule_id or "any rule"
        ident = f" {self.fingerprint[:16]}" if self.fingerprint else ""
        return f"{what}{ident} at {where}"


def _loc_text(loc: dict[str, Any]) -> str:
    text = str(loc.get("path") or loc.get("field") or loc.get("kind") or "?")
    if loc.get("line") is not None:
        text += f":{loc['line']}"
    if loc.get("commit"):
        text += f"@{str(loc['commit'])[:10]}"
    return text


def _location_dict(loc: Location) -> dict[str, Any]:
    """The parts of a location worth keeping (no created_by text, no layer details)."""
    out: dict[str, Any] = {"kind": loc.provenance.kind}
    where = location_of(loc.provenance)
    parts = (where.path, where.image, where.field, where.commit, where.name)
    for key, value in zip(("path", "image", "field", "commit", "name"), parts, strict=True):
        if value is not None:
            out[key] = value
    if loc.line is not None:
        out["line"] = loc.line
    return out


def entry_for(finding: Finding) -> Entry:
    return Entry(
        fingerprint=finding.fingerprint,
        rule_id=finding.rule_id,
        redacted=finding.redacted,
        locations=[_location_dict(loc) for loc in finding.locations],
    )


@dataclass(slots=True)
class Baseline:
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def from_findings(cls, findings: list[Finding]) -> Baseline:
        return cls([entry_for(f) for f in findings])

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": BASELINE_VERSION,
            "tool": {"name": "leakscan", "version": __version__},
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entries": [e.to_dict() for e in self.entries],
        }

    def write(self, path: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise BaselineError(f"cannot write baseline {path}: {exc.strerror}") from None

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise BaselineError(f"cannot read baseline {path}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise BaselineError(f"{path}: not a leakscan baseline (invalid JSON)") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise BaselineError(f"{path}: not a leakscan baseline (no 'entries' list)")
        if doc.get("version") != BASELINE_VERSION:
            raise BaselineError(f"{path}: unsupported baseline version {doc.get('version')!r}")
        entries = []
        for i, raw in enumerate(doc["entries"]):
            if not isinstance(raw, dict) or not isinstance(raw.get("locations", []), list):
                raise BaselineError(f"{path}: entry #{i + 1} is not a mapping with locations")
            entries.append(
                Entry(
                    fingerprint=raw.get("fingerprint"),
                    rule_id=raw.get("rule_id"),
                    redacted=raw.get("redacted"),
                    locations=[loc for loc in raw.get("locations", []) if isinstance(loc, dict)],
                    source=raw.get("source"),
                )
            )
        return cls(entries)


def _same_path(a: str, b: str) -> bool:
    a, b = a.lstrip("./"), b.lstrip("./")
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _rule_agrees(entry_rule: str | None, rule_id: str) -> bool:
    if not entry_rule or entry_rule == rule_id:
        return True
    # a leakscan id (dotted, "leakscan." or a team's "x.y") must agree exactly; a foreign one
    # (gitleaks' "generic-api-key") cannot be mapped, so it accepts any rule at that place
    return "." not in entry_rule


def _location_matches(
    want: dict[str, Any], rule: str | None, finding: Finding, loc: Location
) -> bool:
    where = location_of(loc.provenance)
    path = where.path
    if want.get("path") is None or path is None or not _same_path(str(want["path"]), str(path)):
        return False
    if want.get("line") is not None and loc.line != want["line"]:
        return False
    commit = where.commit
    if (
        want.get("commit")
        and commit
        and not (
            str(commit).startswith(str(want["commit"]))
            or str(want["commit"]).startswith(str(commit))
        )
    ):
        return False
    return _rule_agrees(rule, finding.rule_id)


@dataclass(slots=True)
class Outcome:
    suppressed: int = 0
    stale: list[Entry] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"suppressed": self.suppressed, "stale": [e.to_dict() for e in self.stale]}


def apply(baseline: Baseline, result: ScanResult) -> tuple[ScanResult, Outcome]:
    """Remove accepted findings (or locations, for location entries); find stale entries."""
    by_fp = {e.fingerprint: e for e in baseline.entries if e.fingerprint}
    by_place = [e for e in baseline.entries if not e.fingerprint]
    used: set[int] = set()
    outcome = Outcome()
    kept: list[Finding] = []
    for finding in result.findings:
        entry = by_fp.get(finding.fingerprint)
        if entry is not None:
            used.add(id(entry))
            outcome.suppressed += 1
            continue
        locations = []
        for loc in finding.locations:
            hit = next(
                (
                    e
                    for e in by_place
                    if any(_location_matches(w, e.rule_id, finding, loc) for w in e.locations)
                ),
                None,
            )
            if hit is None:
                locations.append(loc)
            else:
                used.add(id(hit))
        if locations:
            finding.locations = locations
            kept.append(finding)
        else:
            outcome.suppressed += 1
    outcome.stale = [e for e in baseline.entries if id(e) not in used]
    result.findings = kept
    for entry in outcome.stale:
        result.skipped.append(
            Skip("baseline", f"stale entry (no longer found): {entry.describe()}")
        )
    return result, outcome


def merge(old: Baseline, current: Baseline, keep_stale: bool = False) -> Baseline:
    """``baseline update``: the current findings, plus old entries still matching (or all)."""
    fps = {e.fingerprint for e in current.entries if e.fingerprint}
    merged = list(current.entries)
    for entry in old.entries:
        if entry.fingerprint and entry.fingerprint in fps:
            continue
        if keep_stale:
            merged.append(entry)
    return Baseline(merged)


def parse_gitleaksignore(text: str, source: str = ".gitleaksignore") -> Baseline:
    """Entries from a ``.gitleaksignore``.

    Lines are gitleaks fingerprints: ``<commit>:<file>:<rule>:<line>`` (git scans) or
    ``<file>:<rule>:<line>`` (directory scans); a bare leakscan fingerprint (64 hex digits) is
    taken as is. Blank lines and ``#`` comments are skipped; anything else is an error naming
    the line.
    """
    entries: list[Entry] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _HEX64.match(line):
            entries.append(Entry(fingerprint=line, source="gitleaksignore"))
            continue
        parts = line.split(":")
        if len(parts) < 3 or not parts[-1].isdigit():
            raise BaselineError(
                f"{source}:{n}: not a gitleaks fingerprint "
                "(<commit>:<file>:<rule>:<line> or <file>:<rule>:<line>)"
            )
        line_no, rule = int(parts[-1]), parts[-2]
        commit = None
        head = parts[:-2]
        if len(head) >= 2 and re.fullmatch(r"[0-9a-f]{7,40}", head[0]):
            commit, head = head[0], head[1:]
        loc: dict[str, Any] = {"path": ":".join(head), "line": line_no}
        if commit:
            loc["commit"] = commit
        entries.append(Entry(rule_id=rule, locations=[loc], source="gitleaksignore"))
    return Baseline(entries)
