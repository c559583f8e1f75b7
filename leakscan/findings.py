"""Matches grouped into findings: one per (rule, secret), every location kept."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from leakscan.engine.detector import is_generic
from leakscan.engine.redact import redact
from leakscan.locations import place_of
from leakscan.model import CONFIDENCES, Finding, Location, Match, Provenance, rank
from leakscan.rules.spec import Rule


def fingerprint(rule_id: str, secret: str, key: bytes | None = None) -> str:
    """Stable id of a (rule, secret value): sha256, or HMAC-SHA256 when a key is given.

    The two parts are length-prefixed so that no two distinct pairs share an input.
    """
    message = f"{len(rule_id)}:{rule_id}\x00{secret}".encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def value_digest(value: str, key: bytes | None = None) -> str:
    """A rule-independent digest of a secret value (HMAC when a fingerprint key is set)."""
    if key:
        return hmac.new(key, b"value\x00" + value.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(b"value\x00" + value.encode()).hexdigest()


def value_digests(secret: str, key: bytes | None = None) -> tuple[str, str]:
    """Digests of a secret and of its base64 form: what caches keep to merge findings."""
    encoded = base64.b64encode(secret.encode()).decode()
    return value_digest(secret, key), value_digest(encoded, key)


def _place(location: Location) -> tuple[object, ...]:
    return (place_of(location.provenance), location.line)


def _merge_structured(finding: Finding, location: Location) -> bool:
    """A structured value's location at the same file and line as one already found in the
    file's text replaces it (keeping its column): one location that also names the key."""
    place = _place(location)
    for i, seen in enumerate(finding.locations):
        if _place(seen) == place:
            if seen.provenance.line is None and location.provenance.line is not None:
                finding.locations[i] = Location(
                    location.provenance, seen.line, seen.column, seen.decoded or location.decoded
                )
            return True
    return False


#: provenance kinds whose blobs are single values, where a line and column mean nothing
VALUE_KINDS = frozenset({"env", "container-env", "image-config"})


class FindingSet:
    """Accumulates matches from any number of blobs into findings."""

    def __init__(self, rules: Iterable[Rule], key: bytes | None = None) -> None:
        self._rules = {r.id: r for r in rules}
        self._key = key
        self._by_fp: dict[str, Finding] = {}
        self.below_floor = 0  # findings the last findings() call left below its floor
        self._locations: dict[str, set[tuple[object, ...]]] = {}
        #: when a list: every location added, in order, with its finding (an audit keeps
        #: each image's share to report it again when it resumes)
        self.journal: list[tuple[Finding, Location]] | None = None

    def add(self, match: Match, provenance: Provenance) -> Finding:
        fp = fingerprint(match.rule_id, match.secret, self._key)
        finding = self._by_fp.get(fp)
        if finding is None:
            finding = self._new(
                fp,
                match.rule_id,
                match.severity,
                match.confidence,
                match.preview or redact(match.secret),
                value_digests(match.secret, self._key),
            )
        if finding.secret is None:  # restored from a cache first: the value is known now
            finding.secret = match.secret
        self._place(finding, provenance, match.line, match.column, match.decoded)
        return finding

    def add_stored(
        self,
        fp: str,
        rule_id: str,
        severity: str,
        confidence: str,
        redacted: str,
        digests: tuple[str | None, str | None],
        line: int,
        column: int,
        decoded: tuple[str, ...],
        provenance: Provenance,
    ) -> Finding:
        """A match kept by a content cache (no secret), placed exactly as :meth:`add` would."""
        finding = self._by_fp.get(fp) or self._new(
            fp, rule_id, severity, confidence, redacted, digests
        )
        self._place(finding, provenance, line, column, decoded)
        return finding

    def add_location(
        self,
        fp: str,
        rule_id: str,
        severity: str,
        confidence: str,
        redacted: str,
        digests: tuple[str | None, str | None],
        location: Location,
    ) -> None:
        """A location placed earlier (an audit's state), added as it was."""
        finding = self._by_fp.get(fp) or self._new(
            fp, rule_id, severity, confidence, redacted, digests
        )
        self._record(finding, location)

    def _new(
        self,
        fp: str,
        rule_id: str,
        severity: str,
        confidence: str,
        redacted: str,
        digests: tuple[str | None, str | None],
    ) -> Finding:
        rule = self._rules.get(rule_id)
        finding = Finding(
            fingerprint=fp,
            rule_id=rule_id,
            rule_name=rule.name if rule else rule_id,
            severity=severity,
            confidence=confidence,
            redacted=redacted,
            secret=None,
        )
        finding.secret_digest, finding.encoded_digest = digests
        self._by_fp[fp] = finding
        self._locations[fp] = set()
        return finding

    def _place(
        self,
        finding: Finding,
        provenance: Provenance,
        line: int | None,
        column: int | None,
        decoded: tuple[str, ...],
    ) -> None:
        if provenance.kind in VALUE_KINDS and provenance.line is None:
            line = column = None  # one value (an env entry, a config field): no position
        elif provenance.line is not None and line is not None:
            line, column = provenance.line + line - 1, None
        self._record(finding, Location(provenance, line, column, decoded))

    def _record(self, finding: Finding, location: Location) -> None:
        provenance = location.provenance
        key = (
            provenance.kind,
            tuple(sorted(map(str, provenance.fields.items()))),
            location.line,
            location.column,
        )
        seen = self._locations[finding.fingerprint]
        if key not in seen:
            seen.add(key)
            if provenance.line is None or not _merge_structured(finding, location):
                finding.locations.append(location)
            if self.journal is not None:
                self.journal.append((finding, location))

    def add_cached(self, finding: Finding) -> None:
        """Merge a finding restored from a cache (no secret in clear)."""
        existing = self._by_fp.get(finding.fingerprint)
        if existing is None:
            self._by_fp[finding.fingerprint] = finding
            self._locations[finding.fingerprint] = set()
            return
        existing.locations.extend(finding.locations)
        existing.secret_digest = existing.secret_digest or finding.secret_digest
        existing.encoded_digest = existing.encoded_digest or finding.encoded_digest

    def _is_generic(self, finding: Finding) -> bool:
        rule = self._rules.get(finding.rule_id)
        return rule is not None and is_generic(rule)

    def _merged(self) -> list[Finding]:
        """One finding per secret value where generic rules agree with another rule.

        A generic rule (a password assignment, a secret-named key) that caught a value which a
        specific rule also caught elsewhere (the AWS key in ``.env`` as text and as a
        key's value) adds its locations to that finding instead of being a second finding;
        so does the base64 form of a secret found decoded (a Kubernetes Secret's data value).
        """
        # grouped by digests of the value (not the value: restored findings have only those)
        by_secret: dict[str, list[Finding]] = {}
        for finding in self._by_fp.values():
            if finding.secret_digest is not None:
                by_secret.setdefault(finding.secret_digest, []).append(finding)
        encoded: dict[str, list[Finding]] = {}
        for finding in self._by_fp.values():
            if finding.encoded_digest is not None and finding.secret_digest is not None:
                encoded.setdefault(finding.encoded_digest, by_secret[finding.secret_digest])
        dropped: set[str] = set()
        order = {rule_id: i for i, rule_id in enumerate(self._rules)}

        def strength(finding: Finding) -> tuple[int, int]:
            return _strength(finding, order)

        for secret, group in by_secret.items():
            generic = [f for f in group if self._is_generic(f)]
            specific = [f for f in group if not self._is_generic(f)]
            if secret in encoded and encoded[secret] is not group and generic == group:
                keeper = max(encoded[secret], key=strength)
            elif specific:
                keeper = max(specific, key=strength)
            elif len(generic) > 1:
                keeper = max(generic, key=strength)
            else:
                continue
            for finding in generic:
                if finding is keeper or finding.fingerprint in dropped:
                    continue
                dropped.add(finding.fingerprint)
                for loc in finding.locations:
                    if not _merge_structured(keeper, loc):
                        keeper.locations.append(loc)
        return [f for f in self._by_fp.values() if f.fingerprint not in dropped]

    def findings(self, min_confidence: str = "low") -> list[Finding]:
        floor = rank(min_confidence, CONFIDENCES)
        out = []
        self.below_floor = 0
        for finding in self._merged():
            if finding.locations and all(loc.provenance.vendor for loc in finding.locations):
                finding.confidence = "low"  # vouched for by a package database: ranked low
            if rank(finding.confidence, CONFIDENCES) >= floor:
                out.append(finding)
            else:
                self.below_floor += 1
        severity_order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        return sorted(out, key=lambda f: (severity_order[f.severity], f.rule_id, f.redacted))


def _strength(finding: Finding, order: dict[str, int]) -> tuple[int, int]:
    """More confident first; between equals the rule loaded last (a team's own rules)."""
    return (rank(finding.confidence, CONFIDENCES), order.get(finding.rule_id, -1))
