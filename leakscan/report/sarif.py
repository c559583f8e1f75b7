"""SARIF 2.1.0 for code-scanning dashboards.

One ``run``; each rule that produced a finding is a ``reportingDescriptor``; each location of
a finding is a ``result`` carrying ``partialFingerprints`` (the finding's fingerprint) so that
dashboards track it across runs. Locations outside files (image config, env) are logical
locations.
"""

from __future__ import annotations

import json
from typing import Any

from leakscan import __version__
from leakscan.model import Location, ScanResult
from leakscan.report.safe_text import deep, xml_text
from leakscan.report.table import describe

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def _uri(loc: Location) -> str | None:
    f = loc.provenance.fields
    path = f.get("path")
    if path is None:
        return None
    path = str(path)
    if loc.provenance.kind == "image-layer":
        return f"{f.get('image')}/{path}".replace(":", "_").lstrip("/")
    return path.lstrip("/")


def _result(
    finding_index: int, rule_index: int, f: Any, loc: Location, show: bool
) -> dict[str, Any]:
    secret_text = f.secret if show and f.secret else f.redacted
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f"{f.rule_name} {secret_text} in {describe(loc)}"},
        "partialFingerprints": {"leakscanFingerprint/v1": f.fingerprint},
        "properties": {
            "confidence": f.confidence,
            "severity": f.severity,
            "location": loc.to_dict(),
        },
    }
    if f.validation is not None:
        result["properties"]["validation"] = f.validation.to_dict()
    uri = _uri(loc)
    if uri is not None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if loc.line is not None:
            region: dict[str, Any] = {"startLine": loc.line}
            if loc.column is not None:
                region["startColumn"] = loc.column
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
    else:
        result["locations"] = [{"logicalLocations": [{"name": describe(loc), "kind": "resource"}]}]
    return result


class SarifReporter:
    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        rule_ids: list[str] = []
        rules: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for i, f in enumerate(result.findings):
            if f.rule_id not in rule_ids:
                rule_ids.append(f.rule_id)
                rules.append(
                    {
                        "id": f.rule_id,
                        "name": f.rule_id.replace(".", "_"),
                        "shortDescription": {"text": f.rule_name},
                        "defaultConfiguration": {"level": _LEVEL[f.severity]},
                        "properties": {
                            "security-severity": _SECURITY_SEVERITY[f.severity],
                            "tags": ["security", "secret"],
                        },
                    }
                )
            rule_index = rule_ids.index(f.rule_id)
            for loc in f.locations:
                results.append(_result(i, rule_index, f, loc, show_secrets))
        notifications = [
            {"level": "warning", "message": {"text": f"skipped {s.where}: {s.reason}"}}
            for s in result.skipped
        ] + [{"level": "error", "message": {"text": e}} for e in result.errors]
        doc = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "leakscan",
                            "version": __version__,
                            "informationUri": "https://example.invalid/leakscan",
                            "rules": rules,
                        }
                    },
                    "results": results,
                    "invocations": [
                        {
                            "executionSuccessful": not result.errors,
                            "toolExecutionNotifications": notifications,
                        }
                    ],
                    "properties": {"rules_digest": result.rules_digest},
                }
            ],
        }
        return json.dumps(deep(doc, xml_text), indent=2, default=str) + "\n"
