"""Differential benchmark: leakscan, Kingfisher, Betterleaks and Trivy on the same text.

Three passes:

* synthetic: a generated, format-correct secret for every leakscan rule, planted in .env, YAML,
  JSON, Python and shell files (labels known), plus random base64/hex files. Prints each tool's
  recall (planted secrets found) and noise (findings on the random files).
* peer formats: the same, with secrets drawn from Kingfisher's rule patterns (its own and the
  Betterleaks rules it bundles): the formats a peer knows and leakscan does not.
* real text: pinned PyPI wheels and npm packages, the standard library, this venv's
  site-packages and a repository's history. Lists every disagreement (a peer's finding leakscan
  lacks, and the reverse) grouped by rule family, values redacted.

Reports (JSON and text) go to ``<work>/out/``; the headline table goes to stdout.
``python -m bench differential`` runs it with defaults; ``python -m bench.differential --help``
lists the options (sizes, sources, seed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import diff_corpus as corpus
from bench import diff_judge, diff_tools
from bench import diff_peer_pass as peer_pass
from bench.common import WORK
from bench.diff_judge import Judge, JudgementError, Subject, as_json, shown
from bench.diff_match import (
    Consensus,
    Disagreements,
    Index,
    SyntheticScore,
    by_family,
    disagreements,
    family,
    missed_by_leakscan,
    redact,
    score_synthetic,
)
from bench.diff_synthetic import SyntheticTree, build
from bench.diff_tools import Finding, ToolRun, scan_all
from leakscan.rules.loader import load_rules
from leakscan.rules.spec import Rule

TOOLS = ("leakscan", "kingfisher", "betterleaks", "trivy")
PEERS = TOOLS[1:]
SOURCES = ("pypi", "npm", "stdlib", "sitepkgs", "git")


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.differential",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--work", type=Path, default=WORK / "differential", help="work folder")
    p.add_argument("--sources", default=",".join(SOURCES), help="real-text sources to use")
    p.add_argument("--mb-per-source", type=float, default=40.0, help="text budget per source")
    p.add_argument("--mb-per-package", type=float, default=3.0, help="text budget per package")
    p.add_argument("--max-file-kb", type=int, default=512, help="larger files are left out")
    p.add_argument("--git-repo", type=Path, default=None, help="repository whose history to use")
    p.add_argument("--copies", type=int, default=1, help="generated secrets per rule")
    p.add_argument("--noise-mb", type=float, default=4.0, help="random base64/hex to write")
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per tool run")
    p.add_argument("--no-synthetic", action="store_true")
    p.add_argument("--no-real", action="store_true")
    p.add_argument(
        "--no-peer-formats", action="store_true", help="skip secrets drawn from Kingfisher's rules"
    )
    p.add_argument("--list-limit", type=int, default=12, help="items listed per family (text)")
    p.add_argument(
        "--keep-raw", action="store_true", help="keep each tool's own JSON (values in clear)"
    )
    p.add_argument("--copy-text-to", type=Path, default=None, help="also write the text here")
    p.add_argument(
        "--judgements",
        type=Path,
        default=diff_judge.FOLDER,
        help="folder of *.yaml judgements (written reasons for disagreements)",
    )
    p.add_argument(
        "--fail-on-unjudged",
        action="store_true",
        help="exit 1 when a disagreement has no written judgement",
    )
    return p.parse_args(list(argv) if argv is not None else [])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "   - "


def tool_cell(run: ToolRun) -> str:
    if not run.available:
        return "not installed"
    return run.error or f"{run.seconds:.1f}s"


# --- synthetic ------------------------------------------------------------------------------


def synthetic_pass(opts: argparse.Namespace) -> tuple[list[str], dict[str, Any], list[str]]:
    rules = load_rules()
    tree = build(rules, opts.work / "tree-synthetic", opts.seed, opts.copies, opts.noise_mb, log)
    runs = scan_all(tree.root, opts.work / "out", "synthetic", opts.timeout)
    scores = {
        n: score_synthetic(n, r.findings, tree.planted, tree.noise_prefix) for n, r in runs.items()
    }
    head = [
        f"synthetic pass: {len(tree.planted)} secrets planted for {len(rules)} rules "
        f"({len(tree.unplantable)} rules not plantable), {opts.noise_mb:g} MB of random base64/hex",
        f"  {'tool':<12}{'findings':>9}  {'recall (planted found)':<26}{'noise':>6}  "
        f"{'noise by confidence':<28}time",
    ]
    for name in TOOLS:
        run, s = runs[name], scores[name]
        if not run.available or run.error:
            head.append(f"  {name:<12}{'-':>9}  {'-':<26}{'-':>6}  {'-':<28}{tool_cell(run)}")
            continue
        conf = ", ".join(f"{k} {v}" for k, v in sorted(s.noise_by_confidence.items())) or "-"
        recall = f"{s.found}/{s.planted} {pct(s.found, s.planted)}"
        head.append(
            f"  {name:<12}{len(run.findings):>9}  {recall:<26}{s.noise_findings:>6}  "
            f"{conf:<28}{tool_cell(run)}"
        )
    detail = synthetic_detail(tree, runs, scores, {r.id: r for r in rules})
    data = {
        "planted": len(tree.planted),
        "rules": len(rules),
        "unplantable": tree.unplantable,
        "tools": {
            n: {
                "available": runs[n].available,
                "error": runs[n].error,
                "seconds": runs[n].seconds,
                "findings": len(runs[n].findings),
                "found": scores[n].found,
                "recall": scores[n].recall,
                "noise": scores[n].noise_findings,
                "noise_by_confidence": scores[n].noise_by_confidence,
                "extra_on_planted_files": scores[n].extra_on_planted_files,
                "missed": [
                    {
                        "rule": p.rule_id,
                        "format": p.fmt,
                        "file": p.file,
                        "line": p.line,
                        "value": redact(p.secret),
                    }
                    for p in scores[n].missed
                ],
            }
            for n in TOOLS
        },
    }
    return head, data, detail


def shannon(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def why_missed(rule: Rule | None, secret: str, fmts: str) -> str:
    """A reason visible from the rule itself, when there is one."""
    if rule is None:
        return ""
    if rule.entropy and shannon(secret) < rule.entropy:
        return f"; draw's entropy {shannon(secret):.2f} < the rule's floor {rule.entropy:g}"
    if rule.context and set(fmts.split(",")) <= {"py", "sh"}:
        return "; the rule reads structured values (env/yaml/json) only"
    return ""


def synthetic_detail(
    tree: SyntheticTree,
    runs: dict[str, ToolRun],
    scores: dict[str, SyntheticScore],
    rules: dict[str, Rule],
) -> list[str]:
    out = ["", "== synthetic: planted secrets leakscan missed (by rule; which peers found them)"]
    ours = scores["leakscan"]
    missed_ids = {p.file for p in scores["leakscan"].missed}
    peer_found: dict[str, set[str]] = {}
    for name in PEERS:
        if name in scores and runs[name].available:
            missing = {p.file for p in scores[name].missed}
            peer_found[name] = {f for f in missed_ids if f not in missing}
    by_rule: dict[str, list[Any]] = {}
    for p in ours.missed:
        by_rule.setdefault(p.rule_id, []).append(p)
    for rule_id, items in sorted(by_rule.items()):
        fmts = ",".join(p.fmt for p in items)
        peers = sorted({n for p in items for n, files in peer_found.items() if p.file in files})
        out.append(
            f"  {rule_id}: missed in {fmts} ({redact(items[0].secret)}); "
            f"found by: {', '.join(peers) or 'no peer'}"
            + why_missed(rules.get(rule_id), items[0].secret, fmts)
        )
    if tree.unplantable:
        out.append("  not plantable (the generator found no draw the rule's own pattern accepts):")
        out.extend(f"    {k}: {v}" for k, v in sorted(tree.unplantable.items()))
    out.append("")
    out.append("== synthetic: leakscan findings on the random noise files")
    noise = [f for f in runs["leakscan"].findings if f.file.startswith(tree.noise_prefix)]
    out.extend(
        f"  {f.rule} [{f.confidence}] {f.file}:{f.line} {redact(f.secret)}" for f in noise[:50]
    )
    if not noise:
        out.append("  none")
    for name in PEERS:
        s = scores.get(name)
        if s is None or not runs[name].available:
            continue
        rule_fams = Counter(".".join(p.rule_id.split(".")[:2]) for p in s.missed)
        out.append(
            f"== synthetic: {name} missed {len(s.missed)} planted secrets; "
            "top leakscan families it missed: "
            + ", ".join(f"{k} {v}" for k, v in rule_fams.most_common(12))
        )
    return out


# --- real text ------------------------------------------------------------------------------


def build_real(opts: argparse.Namespace) -> tuple[Path, list[corpus.Source]]:
    root = opts.work / "tree-real"
    cache = opts.work / "cache"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    mb = 1_000_000
    budget = corpus.Budget(
        int(opts.mb_per_source * mb), int(opts.mb_per_package * mb), opts.max_file_kb * 1024
    )
    wanted = {s.strip() for s in opts.sources.split(",") if s.strip()}
    sources: list[corpus.Source] = []
    if "pypi" in wanted:
        sources.append(corpus.add_pypi(root / "pypi", cache, budget, log))
    if "npm" in wanted:
        sources.append(corpus.add_npm(root / "npm", cache, budget, log))
    if "stdlib" in wanted:
        sources.append(corpus.add_stdlib(root / "stdlib", budget, log))
    if "sitepkgs" in wanted:
        sources.append(corpus.add_site_packages(root / "sitepkgs", budget, log))
    if "git" in wanted:
        repo = opts.git_repo or corpus.default_git_repo()
        if repo is not None:
            sources.append(corpus.add_git_history(root / "git", repo, budget, log))
    return root, sources


def real_pass(
    opts: argparse.Namespace, judge: Judge
) -> tuple[list[str], dict[str, Any], list[str]]:
    root, sources = build_real(opts)
    runs = scan_all(root, opts.work / "out", "real", opts.timeout)
    return real_report(root, sources, runs, opts.list_limit, judge)


def subject_of(f: Finding) -> Subject:
    fams = {family(f)} | ({peer_pass.provider(f.rule)} if f.tool != "leakscan" else set())
    return Subject((f"{f.tool}:{f.rule}",), tuple(sorted(fams)), f.file, f.secret)


def consensus_subject(c: Consensus) -> Subject:
    rules = tuple(f"{n}:{r}" for n, r in sorted(c.found_by.items()))
    fams = set(c.found_by.values()) | {peer_pass.provider(r) for r in c.found_by.values()}
    return Subject(rules, tuple(sorted(fams)), c.file, c.secret)


def real_report(
    root: Path,
    sources: list[corpus.Source],
    runs: dict[str, ToolRun],
    limit: int,
    judge: Judge,
) -> tuple[list[str], dict[str, Any], list[str]]:
    """Headline, JSON and text of the real-text pass, each disagreement with its judgement."""
    files = sum(s.files for s in sources)
    size = sum(s.bytes for s in sources) / 1e6
    ours = runs["leakscan"].findings
    peers = {n: runs[n].findings for n in PEERS if runs[n].available and not runs[n].error}
    diffs = {n: disagreements(ours, n, f) for n, f in peers.items()}
    consensus = missed_by_leakscan(ours, peers)
    everyone = Index(f for found in peers.values() for f in found)
    alone = [f for f in ours if not everyone.has(f)]
    conf = Counter(f.confidence for f in ours)
    head = [
        f"real text: {files} files, {size:.0f} MB from "
        + ", ".join(f"{s.name} {s.bytes / 1e6:.0f} MB" for s in sources),
        f"  {'tool':<12}{'findings':>9}{'agree w/ leakscan':>19}{'peer only':>11}"
        f"{'leakscan only':>15}  time",
    ]
    for name in TOOLS:
        run = runs[name]
        if not run.available or run.error:
            head.append(f"  {name:<12}{'-':>9}{'-':>19}{'-':>11}{'-':>15}  {tool_cell(run)}")
        elif name == "leakscan":
            by_conf = "/".join(str(conf.get(c, 0)) for c in ("high", "medium", "low"))
            head.append(
                f"  {name:<12}{len(ours):>9}{'(high/med/low ' + by_conf + ')':>45}  "
                + tool_cell(run)
            )
        else:
            d = diffs[name]
            head.append(
                f"  {name:<12}{len(run.findings):>9}{d.agreed:>19}{len(d.peer_only):>11}"
                f"{len(d.leakscan_only):>15}  {tool_cell(run)}"
            )
    head.append(f"  distinct values found by a peer and not by leakscan: {len(consensus)}")
    top: Counter[str] = Counter()
    for c in consensus:
        for name, rule in c.found_by.items():
            top[f"{name}:{rule}"] += 1
    if top:
        head.append(
            "  top peer rule families leakscan missed: "
            + ", ".join(f"{k} {v}" for k, v in top.most_common(8))
        )
    head.append(f"  leakscan findings no peer reports: {len(alone)}")
    missed_verdicts = [judge.find(consensus_subject(c)) for c in consensus]
    for c, j in zip(consensus, missed_verdicts, strict=True):
        judge.record(
            "real text, missed by leakscan",
            f"{c.file}:{c.line} {redact(c.secret)} ({_found_by(c)})",
            j,
        )
    alone_verdicts = [judge.find(subject_of(f)) for f in alone]
    for f, j in zip(alone, alone_verdicts, strict=True):
        judge.record(
            "real text, leakscan only",
            f"{f.rule} [{f.confidence}] {f.file}:{f.line} {redact(f.secret)}",
            j,
        )
    detail = real_detail(root, sources, diffs, consensus, limit, judge)
    detail += ["", "== found by leakscan, by NO peer (judge: real, or leakscan noise?)"]
    for fam, group in by_family(alone):
        detail.append(f"    [{len(group)}] {fam} ({_confidences(group)})")
        seen: set[str] = set()
        for f in group[:limit]:
            detail.append(
                f"        {f.rule} [{f.confidence}] {f.file}:{f.line}  {redact(f.secret)}"
            )
            detail.extend(shown(judge.find(subject_of(f)), "            ", seen))
    data = {
        "root": str(root),
        "sources": [asdict(s) for s in sources],
        "tools": {
            n: {
                "available": runs[n].available,
                "error": runs[n].error,
                "seconds": runs[n].seconds,
                "findings": len(runs[n].findings),
            }
            for n in TOOLS
        },
        "leakscan_by_confidence": dict(conf),
        "leakscan_only_vs_all_peers": [
            {**_item(f), "judgement": as_json(j)}
            for f, j in zip(alone, alone_verdicts, strict=True)
        ],
        "missed_by_leakscan": [
            {
                "file": c.file,
                "line": c.line,
                "value": redact(c.secret),
                "found_by": c.found_by,
                "judgement": as_json(j),
            }
            for c, j in zip(consensus, missed_verdicts, strict=True)
        ],
        "per_peer": {
            n: {
                "agreed": d.agreed,
                "peer_only": [_judged_item(f, judge) for f in d.peer_only],
                "leakscan_only": [_judged_item(f, judge) for f in d.leakscan_only],
                "peer_only_by_family": {k: len(v) for k, v in by_family(d.peer_only)},
                "leakscan_only_by_family": {k: len(v) for k, v in by_family(d.leakscan_only)},
            }
            for n, d in diffs.items()
        },
    }
    return head, data, detail


def _item(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "confidence": f.confidence,
        "file": f.file,
        "line": f.line,
        "value": redact(f.secret),
    }


def _judged_item(f: Finding, judge: Judge) -> dict[str, Any]:
    return {**_item(f), "judgement": as_json(judge.find(subject_of(f)))}


def _found_by(c: Consensus) -> str:
    return " + ".join(f"{n}:{r}" for n, r in sorted(c.found_by.items()))


def _confidences(group: Sequence[Finding]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(Counter(f.confidence for f in group).items()))


def real_detail(
    root: Path,
    sources: list[corpus.Source],
    diffs: dict[str, Disagreements],
    consensus: list[Consensus],
    limit: int,
    judge: Judge,
) -> list[str]:
    out = ["", f"== real text under {root}"]
    for s in sources:
        note = f" ({'; '.join(s.notes[:6])})" if s.notes else ""
        out.append(f"  {s.name}: {s.files} files, {s.bytes / 1e6:.1f} MB{note}")
    out.append("")
    out.append("== found by peers, NOT by leakscan (distinct values; most peers first)")
    groups: dict[str, list[Consensus]] = {}
    for c in consensus:
        groups.setdefault(_found_by(c), []).append(c)
    for key, items in sorted(
        groups.items(), key=lambda kv: (-len(kv[0].split(" + ")), -len(kv[1]))
    ):
        out.append(f"  [{len(items)}] {key}")
        seen: set[str] = set()
        for c in items[:limit]:
            out.append(f"      {c.file}:{c.line}  {redact(c.secret)}")
            out.extend(shown(judge.find(consensus_subject(c)), "          ", seen))
        if len(items) > limit:
            out.append(f"      … {len(items) - limit} more in report.json")
    for name, d in diffs.items():
        out.append("")
        out.append(
            f"== {name}: {len(d.peer_only)} found by {name} only, "
            f"{len(d.leakscan_only)} by leakscan only, {d.agreed} agreed"
        )
        out.append(f"  by {name} rule (leakscan missed):")
        for fam, group in by_family(d.peer_only):
            out.append(f"    [{len(group)}] {fam}")
            seen = set()
            for f in group[:limit]:
                out.append(f"        {f.file}:{f.line}  {redact(f.secret)}")
                out.extend(shown(judge.find(subject_of(f)), "            ", seen))
        out.append(f"  by leakscan family ({name} did not report):")
        for fam, group in by_family(d.leakscan_only):
            out.append(f"    [{len(group)}] {fam} ({_confidences(group)})")
            seen = set()
            for f in group[:limit]:
                out.append(
                    f"        {f.rule} [{f.confidence}] {f.file}:{f.line}  {redact(f.secret)}"
                )
                out.extend(shown(judge.find(subject_of(f)), "            ", seen))
    return out


# --- entry points -----------------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> dict[str, float]:
    opts = options(argv)
    try:
        judge = Judge(diff_judge.load(opts.judgements))
    except JudgementError as exc:
        print(f"differential: bad judgement file: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    diff_tools.KEEP_RAW = opts.keep_raw
    opts.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LEAKSCAN_CACHE_DIR", str(opts.work / "leakscan-cache"))
    started = time.perf_counter()
    headline: list[str] = []
    detail: list[str] = []
    report: dict[str, Any] = {}
    if not opts.no_synthetic:
        h, data, d = synthetic_pass(opts)
        headline += h
        detail += d
        report["synthetic"] = data
    if not opts.no_peer_formats:
        h, data, d = peer_pass.run_pass(opts.work, opts.seed, opts.copies, opts.timeout, log, judge)
        headline += h
        detail += d
        report["peer_formats"] = data
    if not opts.no_real:
        h, data, d = real_pass(opts, judge)
        headline += h
        detail += d
        report["real"] = data
    if not report:
        print("differential: every pass was turned off; nothing written", flush=True)
        return {}
    report["judgements"] = judge.summary()
    detail += judge.report()
    headline.append(
        f"judgements: {len(judge.entries)} entries; unjudged: {len(judge.unjudged)} "
        "families/values (listed at the end of report.txt)"
    )
    headline.append(
        f"differential: done in {time.perf_counter() - started:.0f}s; "
        f"reports in {opts.work / 'out'}"
    )
    out = opts.work / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    text = "\n".join(headline + detail) + "\n"
    (out / "report.txt").write_text(text)
    if opts.copy_text_to:
        opts.copy_text_to.write_text(text)
    print("\n".join(headline), flush=True)
    if opts.fail_on_unjudged and judge.unjudged:
        print(
            f"differential: {len(judge.unjudged)} disagreements have no written judgement "
            f"(--fail-on-unjudged); see {out / 'report.txt'}",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
    numbers: dict[str, float] = {}
    for name, t in report.get("synthetic", {}).get("tools", {}).items():
        numbers[f"synthetic_recall_{name}"] = t["recall"]
        numbers[f"synthetic_noise_{name}"] = t["noise"]
    numbers["unjudged"] = len(judge.unjudged)
    return numbers


if __name__ == "__main__":
    run(sys.argv[1:])
