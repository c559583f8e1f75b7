"""SARIF 2.1.0 for code-scanning dashboards.

One ``run``; each rule that produced a finding is a ``reportingDescriptor`` with its ``help``
(what to do) and ``helpUri`` (the provider's documentation the rule cites, when it cites
one). Each location of
a finding is a ``result``. Its ``partialFingerprints`` identify that location (the secret,
the artifact, the occurrence in it), so a dashboard keeps one alert per place and never folds
two files into one; the secret's own fingerprint is in ``properties``.

Files under the source root (the working directory) are URIs relative to ``%SRCROOT%``,
declared in ``originalUriBaseIds``; files outside it are absolute ``file://`` URIs. Places
that are not files (image config, env, commit messages) are logical locations.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from leakscan import __version__
from leakscan.locations import GitLocation, ImageLayerLocation, location_of
from leakscan.model import Finding, Location, ScanResult
from leakscan.report.safe_text import deep, xml_text
from leakscan.report.table import describe

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
_SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
_HELP = (
    "This {name} is written in clear: anyone who can read the {where} can use it.\n\n"
    "1. Rotate it at the provider first: deleting the line does not help, the value stays in "
    "git history and in every image layer already pushed.\n"
    "2. Remove it from the source and load it at run time (environment, a secret store, "
    "a build secret mount).\n"
    "3. Not a secret (a test value, a placeholder)? Add `# leakscan:allow {rule}` to its line, "
    "or accept the current findings with `leakscan baseline update`."
)


class _Uris:
    """Artifact locations: relative to %SRCROOT% inside the root, ``file://`` outside. A
    relative path is taken as relative to the root (the working directory by default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))

    def base(self) -> dict[str, Any]:
        return {SRCROOT: {"uri": self.root.as_uri().rstrip("/") + "/"}}

    def artifact(self, loc: Location) -> dict[str, Any] | None:
        where = location_of(loc.provenance)
        path = where.path
        if path is None:
            return None
        if isinstance(where, ImageLayerLocation):  # a file inside an image: under the image
            image = quote(str(where.image or "image").replace(":", "_"), safe="/")
            inner = quote(str(path).lstrip("/"), safe="/")
            return {"uri": f"{image}/{inner}"}
        if isinstance(where, GitLocation):
            repo = where.repo
            if not repo or not os.path.isdir(str(repo)):  # a remote: repository-relative
                return {"uri": quote(str(path).lstrip("/"), safe="/")}
            path = os.path.join(str(repo), str(path))
        return self._file(str(path))

    def _file(self, path: str) -> dict[str, Any]:
        member = ""
        if "!" in path:  # a member of an archive: the archive is the artifact
            path, _, member = path.partition("!")
        absolute = Path(os.path.normpath(os.path.join(self.root, path)))  # relative: to root
        try:
            relative = absolute.relative_to(self.root)
        except ValueError:
            uri = absolute.as_uri()
            out: dict[str, Any] = {"uri": uri}
        else:
            out = {
                "uri": quote(PurePosixPath(*relative.parts).as_posix(), safe="/"),
                "uriBaseId": SRCROOT,
            }
        if member:
            out["properties"] = {"member": member}
        return out


def _location_key(finding: Finding, artifact: str) -> str:
    """What identifies a result's place, line left out (a line moves when code is edited
    above it): the secret, the artifact or logical place, and the occurrence number."""
    return f"{finding.rule_id}|{finding.fingerprint}|{artifact}"


def _partial(key: str, occurrence: int) -> str:
    return hashlib.sha256(f"{key}|{occurrence}".encode()).hexdigest()


def _rule(finding: Finding, references: tuple[str, ...]) -> dict[str, Any]:
    name = finding.rule_name
    help_text = _HELP.format(name=name, where="file or image", rule=finding.rule_id)
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "name": finding.rule_id.replace(".", "_"),
        "shortDescription": {"text": name},
        "fullDescription": {"text": f"{name}: a hard-coded credential ({finding.rule_id})."},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": _LEVEL[finding.severity]},
        "properties": {
            "security-severity": _SECURITY_SEVERITY[finding.severity],
            "precision": {"high": "high", "medium": "medium", "low": "low"}[finding.confidence],
            "tags": ["security", "secret"],
        },
    }
    if references:  # the provider's documentation of the credential (rules without: none)
        rule["helpUri"] = references[0]
    return rule


class SarifReporter:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        uris = _Uris(self.root if self.root is not None else Path.cwd())
        rule_ids: list[str] = []
        rules: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        for f in result.findings:
            if f.rule_id not in rule_ids:
                rule_ids.append(f.rule_id)
                rules.append(_rule(f, result.rule_references.get(f.rule_id, ())))
            rule_index = rule_ids.index(f.rule_id)
            # occurrences of one secret in one place are numbered from the top of it
            ordered = sorted(f.locations, key=lambda loc: (loc.line or 0, loc.column or 0))
            made = {
                id(loc): self._result(f, loc, rule_index, uris, seen, show_secrets)
                for loc in ordered
            }
            results.extend(made[id(loc)] for loc in f.locations)
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
                            "rules": rules,
                        }
                    },
                    "originalUriBaseIds": uris.base(),
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

    @staticmethod
    def _result(
        f: Finding,
        loc: Location,
        rule_index: int,
        uris: _Uris,
        seen: dict[str, int],
        show: bool,
    ) -> dict[str, Any]:
        secret_text = f.secret if show and f.secret else f.redacted
        where = describe(loc)
        artifact = uris.artifact(loc)
        place = json.dumps(artifact, sort_keys=True) if artifact else where
        key = _location_key(f, place)
        seen[key] = seen.get(key, 0) + 1
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": rule_index,
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.rule_name} {secret_text} in {where}"},
            "partialFingerprints": {"leakscanLocation/v1": _partial(key, seen[key])},
            "properties": {
                "fingerprint": f.fingerprint,
                "confidence": f.confidence,
                "severity": f.severity,
                "location": loc.to_dict(),
            },
        }
        if f.validation is not None:
            result["properties"]["validation"] = f.validation.to_dict()
        if artifact is not None:
            physical: dict[str, Any] = {"artifactLocation": artifact}
            if loc.line is not None:
                region: dict[str, Any] = {"startLine": loc.line}
                if loc.column is not None:
                    region["startColumn"] = loc.column
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        else:
            result["locations"] = [{"logicalLocations": [{"name": where, "kind": "resource"}]}]
        return result
