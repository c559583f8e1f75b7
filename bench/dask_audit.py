"""`leakscan audit` on this machine against the same audit on a loopback Dask cluster.

The registry of bench/registry.py (50 tags, 56 unique layers: one ~40 MB base shared by all,
five runtimes, one application layer per tag) is audited locally, on a cluster of one worker
and on a cluster of two (one thread each, as docs/scale.md advises), each audit with a fresh
state and content cache, in one run. Printed for each: wall time, throughput against the
local audit, CPU time (user + system) of every process involved (coordinator, workers,
scheduler) against the local audit's, and the coordinator's own CPU per layer by part
(submitting tasks, taking results into the content cache, its local pass, its listing
thread, Dask's communication thread).

Each cluster size runs twice: with Dask's default settings ("new") and with the settings
docs/scale.md advises ("tuned"). The machine may be shared: CPU time is the figure that load
does not move much; wall times are the best of two warm audits.
``LEAKSCAN_BENCH_BASELINE=DIR`` (a checkout of older code) runs the cluster audits with that
code too (Dask's default settings), side by side, for a before/after in one run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import WORK, Run, timed
from bench.registry import _populate, _registry
from tests.distributed.cluster import ADVISED
from tests.support.oci import REGISTRY_BIN

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Audit:
    seconds: float
    cpu: float  # user + system of every process: the coordinator, workers, scheduler
    coordinator_cpu: float  # the coordinator process alone (start included)
    worker_cpu: float = 0.0
    scheduler_cpu: float = 0.0
    doc: dict[str, Any] = field(default_factory=dict)
    idle: float = 0.0  # CPU seconds per second the idle cluster (workers, scheduler) burns


def _proc_cpu(pid: int) -> float:
    """A live process's CPU time so far (user + system, all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _audit(
    host: str, tmp: Path, name: str, cluster: Any = None, root: Path = ROOT, *args: str
) -> Audit:
    report = tmp / f"{name}.json"
    cmd = [sys.executable, "-m", "leakscan.cli", "audit", host, "--insecure", "--state",
           str(tmp / f"{name}.sqlite"), "--cache", str(tmp / f"{name}.content.sqlite"),
           "--no-progress", "-f", "json", "-o", str(report), "--repo", "team*", *args]  # fmt: skip
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    if cluster:
        env.update(cluster.env)  # the coordinator's Dask client runs with the same settings
    workers = dict(cluster.workers) if cluster else {}
    before = {n: _proc_cpu(p.pid) for n, p in workers.items()}
    sched0 = _proc_cpu(cluster.scheduler.pid) if cluster else 0.0
    if cluster:
        cmd += ["--scheduler", cluster.address]
    run = _timed(cmd, env, root)
    worker_cpu = sum(_proc_cpu(p.pid) - before[n] for n, p in workers.items())
    sched = _proc_cpu(cluster.scheduler.pid) - sched0 if cluster else 0.0
    doc = json.loads(report.read_text()) if report.exists() else {}
    if run.returncode not in (0, 1):
        print(f"dask_audit: {name} audit failed (exit {run.returncode})")
    total = run.cpu_seconds + worker_cpu + sched
    return Audit(run.seconds, total, run.cpu_seconds, worker_cpu, sched, doc)


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> Run:
    """:func:`bench.common.timed` run in ``cwd`` (``python -m`` imports from there first)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
        cwd=cwd,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(time.perf_counter() - started, usage.ru_maxrss / 1024, code, cpu)


def _idle_rate(cluster: Any, seconds: float = 3.0) -> float:
    """CPU seconds per second of the cluster's processes with no task (heartbeats)."""
    pids = [p.pid for p in cluster.workers.values()] + [cluster.scheduler.pid]
    before = sum(_proc_cpu(p) for p in pids)
    time.sleep(seconds)
    return (sum(_proc_cpu(p) for p in pids) - before) / seconds


def _findings(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((f["fingerprint"], len(f["locations"])) for f in doc.get("findings", []))


def _best(runs: list[Audit]) -> Audit:
    return min(runs, key=lambda a: a.seconds)


def _peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _report(label: str, run: Audit, local: Audit, layers: int) -> dict[str, float]:
    c = run.doc.get("cluster", {})
    same = _findings(run.doc) == _findings(local.doc)
    ms = 1000 / layers
    speed = local.seconds / run.seconds
    print(
        f"dask_audit:   {label}: {run.seconds:.2f}s -> throughput {speed:.2f}x"
        f" local; CPU {run.cpu:.2f}s = {run.cpu / local.cpu:.2f}x local (coordinator "
        f"{run.coordinator_cpu:.2f}s, workers {run.worker_cpu:.2f}s, scheduler "
        f"{run.scheduler_cpu:.2f}s); findings {'identical' if same else 'DIFFERENT'}; "
        f"{c.get('tasks')} tasks, {c.get('left_local')} left local"
    )
    if "cpu_total" in c:
        parts = {
            "submit": c["cpu_submit"],
            "collect": c["cpu_collect"],
            "local pass": c["cpu_local"],
            "listing": c["cpu_listing"],
        }
        parts["dask comm"] = max(0.0, c["cpu_total"] - sum(parts.values()))
        text = ", ".join(f"{k} {v * ms:.1f}" for k, v in parts.items())
        fixed = run.coordinator_cpu - c["cpu_total"]
        print(
            f"dask_audit:     coordinator CPU per layer {c['cpu_total'] * ms:.1f} ms ({text}); "
            f"fixed (start, imports, connect) {fixed:.2f}s; local pass waited "
            f"{c.get('waited_seconds', 0.0):.2f}s for the cluster"
        )
    tasks = max(1, c.get("tasks", 0))
    idle = run.idle * run.seconds
    dask = run.worker_cpu + run.scheduler_cpu - c.get("worker_cpu", 0.0) - idle
    in_tasks = f"{c['worker_cpu'] * ms:.0f} ms in the tasks, " if "worker_cpu" in c else ""
    print(
        f"dask_audit:     per layer: workers {run.worker_cpu * ms:.0f} ms CPU ({in_tasks}"
        f"{c.get('worker_seconds', 0.0) * ms:.0f} ms wall), scheduler "
        f"{run.scheduler_cpu * 1000 / tasks:.1f} ms CPU per task; idle cluster "
        f"{run.idle * 1000:.0f} ms CPU/s ({idle:.2f}s over the audit)"
        + (
            f"; Dask beyond tasks and idle {dask * 1000 / tasks:.1f} ms per task"
            if in_tasks
            else ""
        )
    )
    return {
        f"{label}_s": run.seconds,
        f"{label}_ratio": local.seconds / run.seconds,
        f"{label}_cpu_ratio": run.cpu / local.cpu,
        f"{label}_coordinator_cpu_ms_per_layer": c.get("cpu_total", float("nan")) * ms,
    }


def _cluster_runs(
    host: str, tmp: Path, name: str, n: int, root: Path, env: dict[str, str]
) -> tuple[Audit, Audit]:
    """A cluster of ``n`` workers importing the code at ``root`` (with Dask settings ``env``):
    its first (cold) audit and the best of two later (warm) ones."""
    from tests.distributed.cluster import running_cluster

    names = tuple(f"w{i}" for i in range(n))
    started = time.perf_counter()
    with running_cluster(tmp / name, names, root, env) as cluster:
        boot = time.perf_counter() - started
        cold = _audit(host, tmp, f"{name}c", cluster, root)
        idle = _idle_rate(cluster)
        warm = _best([_audit(host, tmp, f"{name}{w}", cluster, root) for w in "wx"])
        warm.idle = idle
        peaks = [_peak_rss_mb(p.pid) for p in cluster.workers.values()]
    print(
        f"dask_audit: {name}: {n} worker(s), cluster up in {boot:.1f}s (not counted); worker "
        f"peak RSS {', '.join(f'{p:.0f}' for p in peaks)} MB; cold audit {cold.seconds:.2f}s"
    )
    return cold, warm


def run() -> dict[str, float]:
    if not Path(REGISTRY_BIN).exists():
        print("dask_audit: docker-registry is not installed; skipped")
        return {}
    if importlib.util.find_spec("distributed") is None:
        print("dask_audit: dask[distributed] is not installed (pip install '.[dask]'); skipped")
        return {}
    baseline = os.environ.get("LEAKSCAN_BENCH_BASELINE")
    codes = [("tuned", ROOT, ADVISED), ("new", ROOT, {})]
    codes += [("base", Path(baseline), {})] if baseline else []
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="dask-audit-", dir=WORK))
    out: dict[str, float] = {}
    try:
        with _registry(tmp) as host:
            tags, unique_bytes, _ = _populate(host)
            empty = tmp / "empty"
            empty.mkdir()  # compile and cache the rules database once: not timed
            timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
            # local audits on 2 processes (the default on 2 cores) and on one (--jobs 1), the
            # references for 2 workers and 1 worker; between the clusters, as load drifts
            locals_ = [_audit(host, tmp, "locala")]
            singles = [_audit(host, tmp, "singlea", None, ROOT, "--jobs", "1")]
            warm: dict[str, Audit] = {}
            for n in (1, 2):
                for code, root, env in codes:
                    _, warm[f"{code}{n}"] = _cluster_runs(host, tmp, f"{code}{n}", n, root, env)
                locals_.append(_audit(host, tmp, f"local{n}"))
                singles.append(_audit(host, tmp, f"single{n}", None, ROOT, "--jobs", "1"))
            local, single = _best(locals_), _best(singles)
            st = local.doc.get("stats", {})
            layers = int(st.get("layers_scanned", 0)) or 1
            print(
                f"dask_audit: {tags} tags, {layers} unique layers ({unique_bytes / 1e6:.0f} MB "
                f"compressed); local audit {local.seconds:.2f}s (best of {len(locals_)}: "
                f"{', '.join(f'{a.seconds:.2f}' for a in locals_)}), CPU {local.cpu:.2f}s, "
                f"{local.seconds / layers * 1000:.0f} ms and {local.cpu / layers * 1000:.0f} ms "
                "CPU per layer, all included"
            )
            print(
                f"dask_audit: local audit --jobs 1: {single.seconds:.2f}s (best of "
                f"{len(singles)}: {', '.join(f'{a.seconds:.2f}' for a in singles)}), CPU "
                f"{single.cpu:.2f}s"
            )
            cache_b = (tmp / "locala.content.sqlite").stat().st_size
            state_b = (tmp / "locala.sqlite").stat().st_size
            print(
                f"dask_audit: coordinator files: content cache {cache_b / layers / 1024:.1f} KB "
                f"per layer, audit state {state_b / tags / 1024:.1f} KB per tag"
            )
            out["local_s"] = local.seconds
            print(
                "dask_audit: warm clusters (best of two audits each), 1 worker against the local "
                "audit --jobs 1, 2 workers against the local audit on 2 processes:"
            )
            for n in (1, 2):
                for code, _, _ in codes:
                    label = f"{code}{n}"
                    out.update(
                        _report(label, warm[f"{code}{n}"], single if n == 1 else local, layers)
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    run()
