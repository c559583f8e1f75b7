"""One run's policy: what a scan reports and when it fails, built once by the CLI.

The CLI merges its flags, the config file (which feeds the flags' defaults) and the baseline
into one frozen :class:`Policy` and hands it to :class:`leakscan.api.ScanConfig`. The scanner
applies it: inline allow comments while blobs are in memory (:class:`InlineAllows`, one per
run), then, on the result, allow comments of plain files re-read from disk, ``--min-confidence``
and the baseline (:func:`apply`). ``--fail-on`` is asked with :meth:`Policy.fails`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leakscan.model import SEVERITIES, Finding, Match, ScanResult, rank
from leakscan.policy.allow import filter_result, match_filter
from leakscan.policy.baseline import Baseline
from leakscan.policy.baseline import apply as apply_baseline

log = logging.getLogger(__name__)

#: ``--fail-on valid``: exit 1 only for credentials a provider said are live (``--validate``)
FAIL_ON_VALID = "valid"


@dataclass(frozen=True, slots=True)
class Policy:
    """What a run keeps, drops and fails on. The default keeps every finding."""

    min_confidence: str = "low"  # findings below are left out (and counted)
    fail_on: str | None = None  # a severity, or "valid"; None: any finding fails the run
    exclude: tuple[str, ...] = ()  # path globs not scanned (the sources get them as options)
    inline_allows: bool = False  # honour ``leakscan:allow`` comments (the CLI always does)
    foreign_allow: bool = True  # ... and other scanners' markers (gitleaks:allow & co.)
    baseline: Baseline | None = None  # accepted findings, not reported
    baseline_path: Path | None = None  # where the baseline was read from

    def cache_text(self) -> str:
        """What of the policy decides which matches are kept before they are cached."""
        return f"foreign_allow={self.foreign_allow}" if self.inline_allows else ""

    def fails(self, findings: Sequence[Finding]) -> bool:
        """Whether these findings fail the run (``--fail-on``)."""
        if self.fail_on == FAIL_ON_VALID:
            return any(f.validation and f.validation.status == "valid" for f in findings)
        if self.fail_on:
            floor = rank(self.fail_on, SEVERITIES)
            return any(rank(f.severity, SEVERITIES) >= floor for f in findings)
        return bool(findings)


class InlineAllows:
    """A run's allow-comment filter for blobs in memory; remembers the secrets it allowed
    (not the rule hits: two rules may see one secret) for the summary."""

    def __init__(self, foreign: bool) -> None:
        self.foreign = foreign
        self._drop = match_filter(foreign)
        self.secrets: set[str] = set()

    def __call__(self, data: bytes, matches: list[Match]) -> list[Match]:
        kept = self._drop(data, matches)
        if len(kept) < len(matches):
            self.secrets.update(m.secret for m in matches if m not in kept)
        return kept


def apply(result: ScanResult, policy: Policy, allows: InlineAllows | None) -> ScanResult:
    """The result less the locations allowed inline (plain files re-read from disk) and the
    findings the baseline accepts; the counts go into ``result.extra`` (the JSON report)."""
    if allows is not None:
        result = _allowed(result, allows)
    if policy.baseline is not None:
        result, outcome = apply_baseline(policy.baseline, result)
        result.extra["baseline"] = outcome.to_dict()
    return result


def _allowed(result: ScanResult, allows: InlineAllows) -> ScanResult:
    before = [(f, len(f.locations)) for f in result.findings]
    result, suppressed = filter_result(result, allows.foreign)
    if suppressed:
        log.info("%d location(s) allowed by inline comments", suppressed)
        kept = {id(f) for f in result.findings}
        for finding, count in before:
            if id(finding) not in kept or len(finding.locations) < count:
                allows.secrets.add(finding.secret or finding.fingerprint)
    if allows.secrets:
        result.extra["allowed_inline"] = len(allows.secrets)  # the JSON report says it too
    return result


@dataclass(frozen=True, slots=True)
class LeftOut:
    """What the policy took out of a result, as its report says."""

    baseline: int = 0  # findings (or their locations) the baseline accepts
    inline: int = 0  # secrets allowed by an inline comment


def left_out(result: ScanResult) -> LeftOut:
    baseline = result.extra.get("baseline")
    suppressed = baseline.get("suppressed", 0) if isinstance(baseline, dict) else 0
    return LeftOut(int(suppressed), int(result.extra.get("allowed_inline", 0)))
