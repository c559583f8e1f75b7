"""GitLab's secret-detection report (``gl-secret-detection-report.json``, schema 15.x).

One vulnerability per location of a finding; its ``id`` is stable (a UUID derived from the
finding's fingerprint and the location), ``identifiers`` name the leakscan rule. Secrets are
never written, only the redacted value.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from leakscan import __version__
from leakscan.locations import GitLocation, ImageConfigLocation, ImageLayerLocation, location_of
from leakscan.model import Location, ScanResult
from leakscan.report.safe_text import deep, unsurrogate
from leakscan.report.table import describe

SCHEMA_VERSION = "15.0.7"
_NAMESPACE = uuid.UUID("6f1c3c52-6a39-4d3c-9d0f-7a1c1e2c9b10")
_SEVERITY = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"}
_TIME = "%Y-%m-%dT%H:%M:%S"
_TOOL = {
    "id": "leakscan",
    "name": "leakscan",
    "version": __version__,
    "vendor": {"name": "leakscan"},
}


def _file(loc: Location) -> str:
    where = location_of(loc.provenance)
    if isinstance(where, GitLocation) and not where.path:  # a commit or tag message ...
        return describe(loc)
    path = where.path or where.field or where.name or loc.provenance.kind
    if isinstance(where, ImageLayerLocation) and where.image:
        return f"{where.image}:{path}"
    if isinstance(where, ImageConfigLocation) and where.image:
        return f"{where.image} {path}"
    return str(path)


def _vulnerability(finding: Any, loc: Location) -> dict[str, Any]:
    location: dict[str, Any] = {
        "file": _file(loc),
        "commit": {"sha": str(location_of(loc.provenance).commit or "0000000")},
    }
    if loc.line is not None:
        location["start_line"] = loc.line
        location["end_line"] = loc.line
    key = f"{finding.fingerprint}|{json.dumps(loc.to_dict(), sort_keys=True, default=str)}"
    return {
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "category": "secret_detection",
        "name": finding.rule_name,
        "message": f"{finding.rule_name} in {describe(loc)}",
        "description": (
            f"{finding.rule_name} ({finding.redacted}) found in {describe(loc)}; "
            f"confidence {finding.confidence}."
        ),
        "cve": f"{_file(loc)}:{finding.fingerprint}:{finding.rule_id}",
        "severity": _SEVERITY[finding.severity],
        "confidence": finding.confidence.capitalize(),
        "raw_source_code_extract": finding.redacted,
        "scanner": {"id": "leakscan", "name": "leakscan"},
        "location": location,
        "identifiers": [
            {
                "type": "leakscan_rule_id",
                "name": f"leakscan rule {finding.rule_id}",
                "value": finding.rule_id,
            }
        ],
        "details": {
            "fingerprint": {"name": "fingerprint", "type": "text", "value": finding.fingerprint}
        },
    }


def _now() -> datetime:
    return datetime.now(UTC)


class GitlabReporter:
    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock  # the end time of the scan (tests pass a fixed one)

    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        end = self.clock()
        start = end - timedelta(seconds=result.stats.seconds)
        doc = {
            "version": SCHEMA_VERSION,
            "vulnerabilities": [
                _vulnerability(f, loc) for f in result.findings for loc in f.locations
            ],
            "scan": {
                "analyzer": _TOOL,
                "scanner": _TOOL,
                "type": "secret_detection",
                "start_time": start.strftime(_TIME),
                "end_time": end.strftime(_TIME),
                "status": "failure" if result.errors else "success",
                "messages": [
                    {"level": "warn", "value": f"skipped {s.where}: {s.reason}"}
                    for s in result.skipped
                ]
                + [{"level": "fatal", "value": e} for e in result.errors],
            },
        }
        return json.dumps(deep(doc, unsurrogate), indent=2, default=str) + "\n"
