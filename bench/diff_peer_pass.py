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
from bench.diff_judge import Judge, Judgement, as_json, one_for_all, peer_rule_subject, shown
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
    work: Path, seed: int, copies: int, timeout: float, log: Any, judge: Judge | None = None
) -> tuple[list[str], dict[str, Any], list[str]]:
    exe = tool("kingfisher")
    if not exe:
        return ["peer-format pass: kingfisher not installed, skipped"], {}, []
    rules = kingfisher_rules(exe)
    if not rules:
        return ["peer-format pass: `kingfisher rules list` gave no rules, skipped"], {}, []
    tree = build(rules, work / "tree-peer-formats", seed + 1, copies, 0.0, log)
    runs: dict[str, ToolRun] = scan_all(tree.root, work / "out", "peer-formats", timeout)
    return report(tree.planted, sorted(tree.unplantable), runs, len(rules), judge or Judge())


def report(
    planted: list[Planted],
    unplantable: list[str],
    runs: dict[str, ToolRun],
    n_rules: int,
    judge: Judge,
) -> tuple[list[str], dict[str, Any], list[str]]:
    """Headline, JSON and text of the pass, each gap with its judgement when one is written."""
    scores = {
        n: score_synthetic(n, r.findings, planted, "noise/")
        for n, r in runs.items()
        if r.available and not r.error
    }
    results = per_rule(planted, {n: s.missed for n, s in scores.items()})
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
        f"peer-format pass: {len(planted)} secrets drawn from {n_rules} Kingfisher rules "
        f"({len(unplantable)} not drawable)",
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
    verdicts: dict[str, Judgement | None] = {}
    for fam, items in ranked:
        have = leakscan_rules_for(fam, ours)
        note = (
            f"leakscan has {', '.join(have[:4])}{' …' if len(have) > 4 else ''}, none found these"
            if have
            else "no leakscan rule for this provider"
        )
        found = [judge.find(peer_rule_subject(r.rule_id, fam)) for r in items]
        verdicts.update((r.rule_id, j) for r, j in zip(items, found, strict=True))
        shared = one_for_all(found)
        judge.record(
            "peer-format family",
            f"{fam} ({', '.join(r.rule_id for r in items)})",
            shared or (found[0] if all(found) else None),
        )
        detail.append(f"  {fam} [{len(items)}]  ({note})")
        detail.extend(shown(shared, "      "))
        for r, j in zip(items, found, strict=True):
            counts = "/".join(str(r.found.get(n, "-")) for n in TOOLS[1:])
            detail.append(f"      {r.rule_id}  {counts} of {r.planted}  {r.example}")
            if shared is None:
                detail.extend(shown(j, "          "))
    detail.append("")
    detail.append("== peer-format pass: rules leakscan finds in some file kinds only")
    for r in partial:
        j = judge.find(peer_rule_subject(r.rule_id, provider(r.rule_id)))
        verdicts[r.rule_id] = j
        judge.record(
            "peer-format partly missed",
            f"{r.rule_id} (in {','.join(r.formats_missed_by_leakscan)})",
            j,
        )
        detail.append(
            f"      {r.rule_id}: leakscan {r.found.get('leakscan', 0)}, kingfisher "
            f"{r.found.get('kingfisher', 0)} of {r.planted}; leakscan missed in "
            f"{','.join(r.formats_missed_by_leakscan)}"
        )
        detail.extend(shown(j, "          "))
    if unplantable:
        detail.append("== peer-format pass: rules the generator could not draw from")
        detail.extend(f"      {k}" for k in unplantable)
    data = {
        "planted": len(planted),
        "rules": n_rules,
        "unplantable": unplantable,
        "recall": {n: s.recall for n, s in scores.items()},
        "gaps": [
            {
                "rule": r.rule_id,
                "family": provider(r.rule_id),
                "planted": r.planted,
                **r.found,
                "judgement": as_json(verdicts.get(r.rule_id)),
            }
            for r in gaps
        ],
        "partial": [
            {
                "rule": r.rule_id,
                "planted": r.planted,
                **r.found,
                "judgement": as_json(verdicts.get(r.rule_id)),
            }
            for r in partial
        ],
    }
    return head, data, detail
