"""Shared bench helpers: corpora, timing, peak RSS of a child process, tool lookup."""

from __future__ import annotations

import functools
import os
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
    cpu_seconds: float = 0.0  # user + system time of the tool and the children it waited for


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


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a command, return its wall time and its own peak RSS.

    The child is reaped with ``wait4``, whose usage is that child's alone (the usage of all
    children together only ever grows: it would report the largest tool run so far)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, cpu)


def ratio_line(label: str, ours: float, theirs: float | None, other: str) -> str:
    if theirs is None:
        return f"{label}: leakscan {ours:.2f}s; {other} not installed"
    faster = theirs / ours if ours else float("inf")
    ratio = ours / theirs if theirs else float("inf")
    return (
        f"{label}: leakscan {ours:.2f}s, {other} {theirs:.2f}s -> leakscan takes {ratio:.2f}x "
        f"{other}'s time ({faster:.2f}x " + ("faster)" if faster >= 1 else "the speed, slower)")
    )


def run_line(label: str, tool_name: str, run: Run, mb: float) -> str:
    """One tool's run: wall time, throughput over ``mb``, CPU time (the machine is shared: CPU
    time moves less with the neighbours' load than wall time does)."""
    return (
        f"{label}: {tool_name} {run.seconds:.2f}s ({mb / run.seconds:.0f} MB/s), "
        f"cpu {run.cpu_seconds:.2f}s, peak RSS {run.peak_rss_mb:.0f} MB, exit {run.returncode}"
    )


def realtime(cmd: list[str]) -> list[str]:
    """``cmd`` at real-time priority when this user may ask for it (``chrt -r 10``): the
    machine is shared, and the neighbours' jobs then wait instead of the tool measured."""
    return [*_realtime_prefix(), *cmd]


@functools.cache
def _realtime_prefix() -> tuple[str, ...]:
    """``chrt -r 10`` when it is there and allowed (asked once a run), else nothing."""
    chrt = shutil.which("chrt")
    if chrt is None:
        return ()
    probe = subprocess.run([chrt, "-r", "10", "true"], capture_output=True, check=False)
    return (chrt, "-r", "10") if probe.returncode == 0 else ()


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time, with the median CPU time of all the runs."""
    ordered = sorted(runs, key=lambda r: r.seconds)
    mid = ordered[len(ordered) // 2]
    cpu = sorted(r.cpu_seconds for r in runs)[len(runs) // 2]
    return Run(mid.seconds, mid.peak_rss_mb, mid.returncode, cpu)


def rounds(
    cmds: dict[str, tuple[list[str], dict[str, str] | None]], count: int, cwd: Path | None = None
) -> dict[str, Run]:
    """Each command (with its extra environment) run ``count`` times, one of each per round,
    at real-time priority when allowed; the median of each."""
    runs: dict[str, list[Run]] = {name: [] for name in cmds}
    for _ in range(count):
        for name, (cmd, env) in cmds.items():
            runs[name].append(timed(realtime(cmd), env, cwd))
    return {name: median_run(done) for name, done in runs.items()}
