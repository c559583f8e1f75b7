"""Inline allow comments: ``leakscan:allow`` (optionally with rule ids) on a finding's line
or on the line above suppresses it.

Markers of other scanners are honoured too, so teams migrating keep theirs (``gitleaks:allow``,
``betterleaks:allow``, ``kingfisher:ignore``, ``trufflehog:ignore``, ``pragma: allowlist
secret``, ``nosecret``); ``foreign=False`` turns those off.

Two ways in: :func:`match_filter` drops matches while a blob's bytes are in memory (image
layers, git blobs, files scanned whole); :func:`filter_result` re-reads plain files from disk
(bounded) for what was streamed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from leakscan.locations import location_of
from leakscan.model import Finding, Match, ScanResult

log = logging.getLogger(__name__)

FOREIGN_MARKERS = (
    "gitleaks:allow",
    "betterleaks:allow",
    "kingfisher:ignore",
    "trufflehog:ignore",
    "pragma: allowlist secret",
    "nosecret",
)
# leakscan:allow, then optionally rule ids separated by commas (no spaces inside the list)
_OWN = re.compile(r"leakscan:allow(?:[ \t]+([A-Za-z0-9_.*?\-]+(?:,[A-Za-z0-9_.*?\-]+)*))?")
_FOREIGN = re.compile("|".join(re.escape(m) for m in FOREIGN_MARKERS), re.IGNORECASE)
#: files larger than this are not re-read to look for allow comments
MAX_REREAD_BYTES = 16 * 1024 * 1024


def line_allows(text: str, rule_id: str, foreign: bool = True) -> bool:
    """Whether one line of text carries a marker that allows ``rule_id``."""
    for m in _OWN.finditer(text):
        ids = m.group(1)
        if not ids or any(fnmatchcase(rule_id, g) for g in ids.split(",")):
            return True
    return bool(foreign and _FOREIGN.search(text))


def allowed_at(lines: Sequence[str], line: int, rule_id: str, foreign: bool = True) -> bool:
    """Whether the 1-based ``line`` of ``lines`` or the line above allows ``rule_id``."""
    for n in (line, line - 1):
        if 1 <= n <= len(lines) and line_allows(lines[n - 1], rule_id, foreign):
            return True
    return False


def _has_marker(data: bytes, foreign: bool) -> bool:
    if b"leakscan:allow" in data:
        return True
    if not foreign:
        return False
    lower = data.lower()
    return any(m.encode() in lower for m in FOREIGN_MARKERS)


def match_filter(foreign: bool = True) -> Callable[[bytes, list[Match]], list[Match]]:
    """A per-blob callback (the scanner's, through :class:`~leakscan.policy.InlineAllows`):
    drops allowed matches."""

    def drop_allowed(data: bytes, matches: list[Match]) -> list[Match]:
        if not matches or not _has_marker(data, foreign):
            return matches
        lines = data.decode("utf-8", "replace").splitlines()
        return [m for m in matches if not allowed_at(lines, m.line, m.rule_id, foreign)]

    return drop_allowed


def _file_lines(path: str, cache: dict[str, list[str] | None]) -> list[str] | None:
    if path not in cache:
        lines: list[str] | None = None
        p = Path(path)
        try:
            if "!" not in path and p.is_file() and p.stat().st_size <= MAX_REREAD_BYTES:
                lines = p.read_text("utf-8", "replace").splitlines()
        except OSError:
            log.debug("cannot re-read %s for allow comments", path)
        cache[path] = lines
    return cache[path]


def filter_result(result: ScanResult, foreign: bool = True) -> tuple[ScanResult, int]:
    """Drop file locations whose line (or the line above) allows the finding's rule.

    A finding none of whose locations is left is dropped. Returns the number of locations
    suppressed.
    """
    cache: dict[str, list[str] | None] = {}
    suppressed = 0
    kept: list[Finding] = []
    for finding in result.findings:
        locations = []
        for loc in finding.locations:
            path = location_of(loc.provenance).path
            if loc.provenance.kind == "file" and path and loc.line is not None:
                lines = _file_lines(str(path), cache)
                if lines is not None and allowed_at(lines, loc.line, finding.rule_id, foreign):
                    suppressed += 1
                    continue
            locations.append(loc)
        if locations:
            finding.locations = locations
            kept.append(finding)
    result.findings = kept
    return result, suppressed
