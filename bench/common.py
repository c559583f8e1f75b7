"""Shared bench helpers: corpora, timing, peak RSS of a child process, tool lookup."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

WORK = Path(__file__).resolve().parent / "work"


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int


def stdlib_copy() -> Path:
    """A copy of Python's standard library (~100 MB of real text, no site-packages)."""
    target = WORK / "stdlib"
    if target.exists():
        return target
    source = Path(sysconfig.get_paths()["stdlib"])
    tmp = WORK / "stdlib.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(
        source,
        tmp,
        symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc", "test", "idlelib"),
    )
    tmp.rename(target)
    return target


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def tool(name: str) -> str | None:
    """A tool next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command, return wall time and the peak RSS of its process tree's largest child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Run(seconds, max(after, before) / 1024, proc.returncode)


def ratio_line(label: str, ours: float, theirs: float | None, other: str) -> str:
    if theirs is None:
        return f"{label}: leakscan {ours:.2f}s; {other} not installed"
    faster = theirs / ours if ours else float("inf")
    return f"{label}: leakscan {ours:.2f}s, {other} {theirs:.2f}s -> leakscan is {faster:.2f}x " + (
        "faster" if faster >= 1 else "the speed (slower)"
    )
