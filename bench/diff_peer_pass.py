"""The peer-format pass: secrets drawn from Kingfisher's rule patterns (its own and the
Betterleaks rules it bundles), planted like the synthetic pass, scanned by every tool.

It answers the question the real text rarely can: which formats a peer recognises that
leakscan does not. A peer rule counts as a gap when Kingfisher finds the secrets drawn from it
and leakscan finds none of them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import tool
from bench.diff_match import Planted, redact, score_synthetic
from bench.diff_peer_rules import kingfisher_rules
from bench.diff_synthetic import build
from bench.diff_tools import ToolRun, scan_all
from leakscan.rules.loader import load_rules
from leakscan.rules.spec import Rule

TOOLS = ("leakscan", "kingfisher", "betterleaks", "trivy")


@dataclass
class RuleResult:
    rule_id: str
    planted: int = 0
    found: dict[str, int] = field(default_factory=dict)
    example: str = ""
    formats_missed_by_leakscan: list[str] = field(default_factory=list)


#: words that name a credential's kind, not its provider (stripped from a rule id's end)
KIND_WORDS = frozenset(
    "api key keys token tokens secret id client access pat personal sdk server mobile service "
    "account auth oauth webhook url uri password cookie session private public live production "
    "app application encryption signing license root user header v2 extended long short lived "
    "refresh config credentials connection string default pub identifier".split()
)


def provider(rule_id: str) -> str:
    """``betterleaks.new-relic-user-api-id.1`` -> ``new-relic``: the family a gap is counted
    under (the rule id without its tool prefix, variant number and trailing kind words)."""
    name = rule_id.split(".", 1)[-1]
    name = re.sub(r"\.\d+$", "", name).rsplit("/", 1)[-1]
    words = name.split("-")
    while len(words) > 1 and words[-1] in KIND_WORDS:
        words.pop()
    return "-".join(words)


def leakscan_rules_for(family: str, rules: list[Rule]) -> list[str]:
    """leakscan's rule ids for the provider a gap family names (by the id's provider part)."""
    key = family.replace("-", "")
    found = []
    for r in rules:
        parts = r.id.split(".")
        if len(parts) < 3:
            continue
        ours = parts[1].replace("-", "")
        if ours == key or key.startswith(ours) or ours.startswith(key):
            found.append(r.id)
    return found


def per_rule(planted: list[Planted], missed: dict[str, list[Planted]]) -> list[RuleResult]:
    results: dict[str, RuleResult] = {}
    missed_files = {name: {p.file for p in items} for name, items in missed.items()}
    for p in planted:
        r = results.setdefault(p.rule_id, RuleResult(p.rule_id, example=redact(p.secret)))
        r.planted += 1
        for name, files in missed_files.items():
            r.found[name] = r.found.get(name, 0) + (p.file not in files)
        if "leakscan" in missed_files and p.file in missed_files["leakscan"]:
            r.formats_missed_by_leakscan.append(p.fmt)
    return sorted(results.values(), key=lambda r: r.rule_id)


def run_pass(
    work: Path, seed: int, copies: int, timeout: float, log: Any
) -> tuple[list[str], dict[str, Any], list[str]]:
    exe = tool("kingfisher")
    if not exe:
        return ["peer-format pass: kingfisher not installed, skipped"], {}, []
    rules = kingfisher_rules(exe)
    if not rules:
        return ["peer-format pass: `kingfisher rules list` gave no rules, skipped"], {}, []
    tree = build(rules, work / "tree-peer-formats", seed + 1, copies, 0.0, log)
    runs: dict[str, ToolRun] = scan_all(tree.root, work / "out", "peer-formats", timeout)
    scores = {
        n: score_synthetic(n, r.findings, tree.planted, "noise/")
        for n, r in runs.items()
        if r.available and not r.error
    }
    results = per_rule(tree.planted, {n: s.missed for n, s in scores.items()})
    gaps = [r for r in results if r.found.get("kingfisher", 0) and not r.found.get("leakscan", 0)]
    partial = [
        r
        for r in results
        if r.found.get("leakscan", 0) and r.found.get("leakscan", 0) < r.found.get("kingfisher", 0)
    ]
    fams: dict[str, list[RuleResult]] = defaultdict(list)
    for r in gaps:
        fams[provider(r.rule_id)].append(r)
    ranked = sorted(fams.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    head = [
        f"peer-format pass: {len(tree.planted)} secrets drawn from {len(rules)} Kingfisher rules "
        f"({len(tree.unplantable)} not drawable)",
        "  "
        + ", ".join(
            f"{n} {s.found}/{s.planted} ({100 * s.recall:.1f}%)" for n, s in scores.items()
        ),
        f"  peer rules whose secrets kingfisher finds and leakscan finds none of: {len(gaps)} "
        f"in {len(fams)} families; partly: {len(partial)}",
        "  top gap families: " + ", ".join(f"{fam} {len(items)}" for fam, items in ranked[:15]),
    ]
    detail = ["", "== peer-format pass: Kingfisher rules whose secrets leakscan misses entirely"]
    detail.append(
        "   (family [rules]: rule  found kingfisher/betterleaks/trivy of planted, example)"
    )
    ours = load_rules()
    for fam, items in ranked:
        have = leakscan_rules_for(fam, ours)
        note = (
            f"leakscan has {', '.join(have[:4])}{' …' if len(have) > 4 else ''}, none found these"
            if have
            else "no leakscan rule for this provider"
        )
        detail.append(f"  {fam} [{len(items)}]  ({note})")
        for r in items:
            counts = "/".join(str(r.found.get(n, "-")) for n in TOOLS[1:])
            detail.append(f"      {r.rule_id}  {counts} of {r.planted}  {r.example}")
    detail.append("")
    detail.append("== peer-format pass: rules leakscan finds in some file kinds only")
    for r in partial:
        detail.append(
            f"      {r.rule_id}: leakscan {r.found.get('leakscan', 0)}, kingfisher "
            f"{r.found.get('kingfisher', 0)} of {r.planted}; leakscan missed in "
            f"{','.join(r.formats_missed_by_leakscan)}"
        )
    if tree.unplantable:
        detail.append("== peer-format pass: rules the generator could not draw from")
        detail.extend(f"      {k}" for k in sorted(tree.unplantable))
    data = {
        "planted": len(tree.planted),
        "rules": len(rules),
        "unplantable": sorted(tree.unplantable),
        "recall": {n: s.recall for n, s in scores.items()},
        "gaps": [
            {"rule": r.rule_id, "family": provider(r.rule_id), "planted": r.planted, **r.found}
            for r in gaps
        ],
        "partial": [{"rule": r.rule_id, "planted": r.planted, **r.found} for r in partial],
    }
    return head, data, detail
