"""An image's share of the findings as the audit state keeps it, and put back on resume.

Each location the scan placed becomes one row (fingerprint, rule, severity, confidence,
redacted value, value digests, provenance, line, column, decoding): never the secret. Put
back with :meth:`FindingSet.add_location`, a resumed audit reports what the scan reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leakscan.findings import FindingSet
from leakscan.model import Finding, Location, Provenance


def rows(placed: Iterable[tuple[Finding, Location]]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for finding, loc in placed:
        prov = loc.provenance
        out.append(
            [
                finding.fingerprint,
                finding.rule_id,
                finding.severity,
                finding.confidence,
                finding.redacted,
                finding.secret_digest,
                finding.encoded_digest,
                prov.kind,
                dict(prov.fields),
                prov.line,
                prov.vendor,
                loc.line,
                loc.column,
                list(loc.decoded),
            ]
        )
    return out


def replay(findings: FindingSet, stored: Iterable[list[Any]]) -> None:
    for row in stored:
        fp, rule_id, severity, confidence, redacted, sd, ed, kind, fields, pline, vendor = row[:11]
        line, column, decoded = row[11:14]
        findings.add_location(
            fp,
            rule_id,
            severity,
            confidence,
            redacted,
            (sd, ed),
            Location(Provenance(kind, fields, pline, bool(vendor)), line, column, tuple(decoded)),
        )
