"""The versioned JSON document (and JSON lines, one finding a line)."""

from __future__ import annotations

import json
from typing import Any

from leakscan import __version__
from leakscan.model import ScanResult
from leakscan.report.safe_text import deep, unsurrogate

SCHEMA_VERSION = 1


def document(result: ScanResult, show_secrets: bool = False) -> dict[str, Any]:
    doc = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "leakscan", "version": __version__, "rules_digest": result.rules_digest},
        "findings": [f.to_dict(show_secrets) for f in result.findings],
        "skipped": [s.to_dict() for s in result.skipped],
        "errors": list(result.errors),
        "stats": result.stats.to_dict(),
    }
    for key, value in result.extra.items():  # additive keys (baseline outcome, ...)
        doc.setdefault(key, value)
    return doc


class JsonReporter:
    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        doc = deep(document(result, show_secrets), unsurrogate)
        return json.dumps(doc, indent=2, default=str) + "\n"


class JsonLinesReporter:
    """One JSON object a line: each finding, then each skip and error, then the stats."""

    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        lines = []
        for f in result.findings:
            lines.append({"type": "finding", **f.to_dict(show_secrets)})
        for s in result.skipped:
            lines.append({"type": "skipped", **s.to_dict()})
        for e in result.errors:
            lines.append({"type": "error", "message": e})
        lines.append(
            {"type": "stats", "rules_digest": result.rules_digest, **result.stats.to_dict()}
        )
        return "".join(json.dumps(deep(line, unsurrogate), default=str) + "\n" for line in lines)
