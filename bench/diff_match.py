"""Match findings across tools, score the synthetic pass, list disagreements on real text.

Two findings are the same when they are in the same file and their secrets are the same or one
holds the other (a tool that reports ``postgres://u:pw@h`` and one that reports ``pw``); when a
tool gives no secret, when their line ranges overlap.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.diff_tools import Finding

MIN_CONTAINED = 6  # a shorter secret inside a longer one counts only from this length
_SQUEEZE = re.compile(r"\s+|\\[nr]")


def squeeze(secret: str) -> str:
    """A secret without whitespace and escaped newlines (PEM bodies, JSON-escaped keys)."""
    return _SQUEEZE.sub("", secret).strip("\"'`")


def same_secret(a: str, b: str) -> bool:
    a, b = squeeze(a), squeeze(b)
    if not a or not b:
        return False
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_CONTAINED and short in long_


def lines_overlap(a: Finding, b: Finding) -> bool:
    if not a.line or not b.line:
        return False
    return a.line <= b.end_line and b.line <= a.end_line


def same(a: Finding, b: Finding) -> bool:
    if a.file != b.file:
        return False
    if a.secret and b.secret:
        return same_secret(a.secret, b.secret)
    return lines_overlap(a, b)


class Index:
    """Findings by file, to ask "does any of these match that one?" quickly."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self.by_file: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            self.by_file[f.file].append(f)

    def matches(self, f: Finding) -> list[Finding]:
        return [g for g in self.by_file.get(f.file, []) if same(f, g)]

    def has(self, f: Finding) -> bool:
        return any(same(f, g) for g in self.by_file.get(f.file, []))


def redact(secret: str | None) -> str:
    """A value shown in a report: at most 4 characters each end, never the whole."""
    if not secret:
        return "(value not given)"
    flat = " ".join(secret.split())
    if len(flat) >= 16:
        return f"{flat[:4]}…{flat[-4:]} ({len(flat)} chars)"
    if len(flat) >= 8:
        return f"{flat[:2]}…{flat[-1:]} ({len(flat)} chars)"
    return f"… ({len(flat)} chars)"


def family(f: Finding) -> str:
    """The group a finding is counted under: the peer's rule id, leakscan's provider family."""
    if f.tool == "leakscan":
        parts = f.rule.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else f.rule
    return f.rule or "(no rule id)"


# --- the synthetic pass ----------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    rule_id: str
    fmt: str
    file: str
    line: int
    end_line: int
    secret: str

    def as_finding(self) -> Finding:
        return Finding("planted", self.file, self.line, self.end_line, self.secret, self.rule_id)


@dataclass
class SyntheticScore:
    tool: str
    planted: int
    found: int
    noise_findings: int
    noise_by_confidence: dict[str, int]
    extra_on_planted_files: int
    missed: list[Planted]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 0.0


def score_synthetic(
    tool: str, findings: Sequence[Finding], planted: Sequence[Planted], noise_prefix: str
) -> SyntheticScore:
    index = Index(findings)
    missed = [p for p in planted if not index.has(p.as_finding())]
    noise = [f for f in findings if f.file.startswith(noise_prefix)]
    planted_index = Index(p.as_finding() for p in planted)
    extra = [
        f for f in findings if not f.file.startswith(noise_prefix) and not planted_index.has(f)
    ]
    return SyntheticScore(
        tool,
        len(planted),
        len(planted) - len(missed),
        len(noise),
        dict(Counter(f.confidence or "-" for f in noise)),
        len(extra),
        missed,
    )


# --- disagreements on real text -----------------------------------------------------------------


@dataclass
class Disagreements:
    peer: str
    peer_only: list[Finding]  # found by the peer, not by leakscan
    leakscan_only: list[Finding]  # found by leakscan, not by the peer
    agreed: int  # leakscan findings the peer also has


def disagreements(
    leakscan: Sequence[Finding], peer_name: str, peer: Sequence[Finding]
) -> Disagreements:
    ours, theirs = Index(leakscan), Index(peer)
    peer_only = [f for f in peer if not ours.has(f)]
    leakscan_only = [f for f in leakscan if not theirs.has(f)]
    return Disagreements(peer_name, peer_only, leakscan_only, len(leakscan) - len(leakscan_only))


def by_family(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by family, largest group first."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[family(f)].append(f)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


@dataclass
class Consensus:
    """One value that peers found and leakscan did not, with who found it."""

    file: str
    line: int
    secret: str | None
    found_by: dict[str, str]  # peer -> its rule id


def missed_by_leakscan(
    leakscan: Sequence[Finding], peers: Mapping[str, Sequence[Finding]]
) -> list[Consensus]:
    """Peer findings leakscan lacks, merged across peers; the most-agreed first."""
    ours = Index(leakscan)
    merged: list[Consensus] = []
    merged_index: dict[str, list[tuple[Finding, Consensus]]] = defaultdict(list)
    for name, findings in peers.items():
        for f in findings:
            if ours.has(f):
                continue
            hit = next((c for g, c in merged_index[f.file] if same(f, g)), None)
            if hit is None:
                hit = Consensus(f.file, f.line, f.secret, {})
                merged.append(hit)
                merged_index[f.file].append((f, hit))
            hit.found_by.setdefault(name, f.rule)
            if hit.secret is None and f.secret:
                hit.secret = f.secret
    merged.sort(key=lambda c: (-len(c.found_by), c.file, c.line))
    return merged
