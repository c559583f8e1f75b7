"""The lines a person reads on standard error after a scan: what was found, what was left
out and why, what to do next, and each error once.

These go to stderr whatever the reports are and wherever they are written, so a CI log shows
the outcome of a run that writes its report to a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from leakscan.model import ScanResult
from leakscan.report.safe_text import terminal

NEXT_STEPS = (
    "next steps: rotate each secret found (deleting it leaves it in history), then remove it; "
    "a false positive: add a `# leakscan:allow` comment to its line; "
    "accept the findings as they are: `leakscan baseline update`"
)
NEXT_STEPS_STAGED = (
    "next steps: take the secret out of the staged file (load it from the environment or a "
    "secret store) and `git add` it again; rotate it if it was ever pushed; "
    "a false positive: add a `# leakscan:allow` comment to its line"
)
SHALLOW_HINT = (
    "hint: this clone is shallow, so the commits of the range may be missing: fetch the "
    "whole history (actions/checkout `fetch-depth: 0`, GitLab CI `GIT_DEPTH: 0`) or "
    "`git fetch --unshallow`"
)


@dataclass(frozen=True, slots=True)
class LeftOut:
    """Findings a run found and did not report, by reason."""

    baseline: int = 0  # findings (or their locations) the baseline accepts
    inline: int = 0  # locations allowed by an inline comment
    below_confidence: int = 0  # findings below --min-confidence
    min_confidence: str = "low"

    def parts(self) -> list[str]:
        out = []
        if self.baseline:
            out.append(f"{self.baseline} accepted by the baseline")
        if self.inline:
            out.append(f"{self.inline} allowed inline")
        if self.below_confidence:
            out.append(f"{self.below_confidence} below --min-confidence {self.min_confidence}")
        return out


def totals(result: ScanResult, left_out: LeftOut) -> str:
    """``2 secret(s) in 3 location(s) (8 accepted by the baseline); scanned ...``."""
    s = result.stats
    locations = sum(len(f.locations) for f in result.findings)
    text = f"{len(result.findings)} secret(s) in {locations} location(s)"
    parts = left_out.parts()
    if parts:
        text += f" ({', '.join(parts)})"
    text += f"; scanned {s.blobs} blob(s), {s.bytes / 1e6:.1f} MB in {s.seconds:.2f}s"
    if s.cached_blobs:
        text += f"; {s.cached_blobs} reused"
    if result.skipped:
        text += f"; {len(result.skipped)} skipped (--verbose lists them)"
    return text


def lines(
    result: ScanResult,
    left_out: LeftOut,
    *,
    failed: bool,
    verbose: int = 0,
    staged: bool = False,
) -> list[str]:
    """Everything for stderr, in order: skips (with -v), then the totals and next steps of
    a completed run, or the errors, hints and what was found before them."""
    out: list[str] = []
    if verbose and result.skipped:
        for skip in result.skipped:
            out.append(f"leakscan: skipped {terminal(skip.where)}: {terminal(skip.reason)}")
    if not result.errors:
        out.append(totals(result, left_out))
        if failed and result.findings:
            out.append(NEXT_STEPS_STAGED if staged else NEXT_STEPS)
        return out
    # an error: said once, first; totals only for what was found before it (a "0 secret(s)"
    # would read as a clean result)
    for error in result.errors:
        out.append(f"leakscan: error: {terminal(error)}")
    if any("bad revision" in e for e in result.errors) and any(
        s.reason.startswith("shallow clone") for s in result.skipped
    ):
        out.append(f"leakscan: {SHALLOW_HINT}")
    if result.findings:
        out.append(f"incomplete scan, found before the error: {totals(result, left_out)}")
    return out
