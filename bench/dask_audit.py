"""`leakscan audit` on this machine against the same audit on a loopback Dask cluster.

Two registries' worth of images in one loopback registry, each audited with a fresh state and
content cache, locally and on clusters of one and two workers (one thread each, as
docs/scale.md advises), in one run:

- "small layers" (the repositories ``team*`` of bench/registry.py): 50 tags, 56 unique
  layers, 82 MB compressed (one ~40 MB base shared by all, five ~4 MB runtimes, one ~0.6 MB
  application layer per tag): the coordinator's and Dask's per-layer costs at their worst;
- "large layers" (``big*``): 12 tags, the same base and one 13-24 MB application layer each
  (files of this virtualenv's site-packages and of the shared libraries: code and binaries):
  layers of a real registry's size.

Printed for each: wall time, throughput against the local audit, CPU time (user + system)
of every process involved (coordinator, workers, scheduler) against the local audit's, and
the coordinator's own CPU per layer by part (submitting tasks, taking results into the
content cache, its local pass, its listing thread, Dask's communication thread).

Clusters run with the Dask settings docs/scale.md advises ("tuned"); with
``LEAKSCAN_BENCH_DASK_DEFAULTS=1`` also with Dask's defaults ("new"). The machine may be
shared: each figure is the least of its runs (three local audits, two warm audits per
cluster; CPU time from the run of least CPU, wall time the best of all), load only ever
adds to either. ``LEAKSCAN_BENCH_BASELINE=DIR`` (a checkout of older code) runs the cluster
audits with that code too (advised settings), side by side, for a before/after in one run.
"""

from __future__ import annotations

import dataclasses
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

import requests

from bench.common import WORK, Run, timed
from bench.registry import _cached_layer, _files, _populate, _registry, _shared_layers
from tests.distributed.cluster import ADVISED
from tests.support.oci import REGISTRY_BIN, oci_image, push, sha

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")

BIG_TAGS = 12  # "large layers": tags, each with its own application layer
BIG_APP_BYTES = 80 * 1024 * 1024  # uncompressed files per application layer (13-24 MB gzip'd)
CASES = (("small layers", "team*"), ("large layers", "big*"))
NO_REPO = "no-such-repository*"  # an audit that meets no image: the fixed start


def _populate_large(host: str) -> tuple[int, int]:
    """Push the "large layers" images (``big<r>/app:<t>``); return (tags, unique bytes)."""
    base, _ = _shared_layers()
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    libs = [p for p in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"))]
    roots = [site / "site-packages", *(p for p in libs if p.is_dir())]
    session = requests.Session()
    unique: dict[str, int] = {}
    for t in range(BIG_TAGS):

        def build(t: int = t) -> list[tuple[str, bytes]]:
            return _files(roots, BIG_APP_BYTES, f"srv/app{t}/", BIG_TAGS, t)

        app = _cached_layer(f"big-app{t}", build)
        image = oci_image([base, app], ["PATH=/usr/bin", f"TAG=big:{t}"])
        push(session, f"http://{host}", f"big{t % 3}/app", f"2.{t}", image)
        for gz in image.layers:
            unique[sha(gz)] = len(gz)
    return BIG_TAGS, sum(unique.values())


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
    host: str,
    tmp: Path,
    name: str,
    cluster: Any = None,
    root: Path = ROOT,
    *args: str,
    repos: str = "team*",
) -> Audit:
    report = tmp / f"{name}.json"
    cmd = [sys.executable, "-m", "leakscan.cli", "audit", host, "--insecure", "--state",
           str(tmp / f"{name}.sqlite"), "--cache", str(tmp / f"{name}.content.sqlite"),
           "--no-progress", "-f", "json", "-o", str(report), "--repo", repos, *args]  # fmt: skip
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
    """The run of least CPU (its figures) with the best wall time of all: on a shared
    machine, other jobs only ever add to either."""
    fastest = min(a.seconds for a in runs)
    return dataclasses.replace(min(runs, key=lambda a: a.cpu), seconds=fastest)


def _peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _report(
    label: str, run: Audit, local: Audit, layers: int, empty: Audit, local_empty: Audit
) -> dict[str, float]:
    c = run.doc.get("cluster", {})
    same = _findings(run.doc) == _findings(local.doc)
    ms = 1000 / layers
    speed = local.seconds / run.seconds
    print(
        f"dask_audit:   {label}: {run.seconds:.2f}s -> throughput {speed:.2f}x"
        f" local; CPU {run.cpu:.2f}s = {run.cpu / local.cpu:.2f}x local (coordinator "
        f"{run.coordinator_cpu:.2f}s, workers {run.worker_cpu:.2f}s, scheduler "
        f"{run.scheduler_cpu:.2f}s); findings {'identical' if same else 'DIFFERENT'}; "
        f"{c.get('tasks')} layers sent in {c.get('dask_tasks', c.get('tasks'))} Dask tasks, "
        f"{c.get('left_local')} left local"
    )
    # what auditing these images adds to an audit that meets none (start, imports, rules,
    # connecting, the catalog): the per-layer part of the aim, without the fixed start
    marginal = (run.cpu - empty.cpu) / (local.cpu - local_empty.cpu)
    print(
        f"dask_audit:     beyond the fixed start (an audit meeting no image: {empty.cpu:.2f}s "
        f"CPU (coordinator {empty.coordinator_cpu:.2f}s), the local one "
        f"{local_empty.cpu:.2f}s): CPU {marginal:.2f}x local"
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
    tasks = max(1, c.get("dask_tasks", c.get("tasks", 0)))
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
        f"{label}_marginal_cpu_ratio": marginal,
        f"{label}_coordinator_cpu_ms_per_layer": c.get("cpu_total", float("nan")) * ms,
    }


def _cluster_runs(
    host: str, tmp: Path, name: str, n: int, root: Path, env: dict[str, str]
) -> dict[str, Audit]:
    """A cluster of ``n`` workers importing the code at ``root`` (with Dask settings ``env``):
    a first (cold) audit of the small layers, then the best of two later (warm) audits of
    each case, and (key "empty") the best of two audits meeting no image."""
    from tests.distributed.cluster import running_cluster

    names = tuple(f"w{i}" for i in range(n))
    started = time.perf_counter()
    warm: dict[str, Audit] = {}
    with running_cluster(tmp / name, names, root, env) as cluster:
        boot = time.perf_counter() - started
        cold = _audit(host, tmp, f"{name}c", cluster, root)
        idle = _idle_rate(cluster)
        for case, repos in (*CASES, ("empty", NO_REPO)):
            runs = [
                _audit(host, tmp, f"{name}{case[0]}{w}", cluster, root, repos=repos) for w in "wx"
            ]
            warm[case] = _best(runs)
            warm[case].idle = idle
        peaks = [_peak_rss_mb(p.pid) for p in cluster.workers.values()]
    print(
        f"dask_audit: {name}: {n} worker(s), cluster up in {boot:.1f}s (not counted); worker "
        f"peak RSS {', '.join(f'{p:.0f}' for p in peaks)} MB; cold audit {cold.seconds:.2f}s"
    )
    return warm


def _locals(host: str, tmp: Path, name: str, repos: str, *args: str) -> Audit:
    return _audit(host, tmp, name, None, ROOT, *args, repos=repos)


def run() -> dict[str, float]:
    if not Path(REGISTRY_BIN).exists():
        print("dask_audit: docker-registry is not installed; skipped")
        return {}
    if importlib.util.find_spec("distributed") is None:
        print("dask_audit: dask[distributed] is not installed (pip install '.[dask]'); skipped")
        return {}
    baseline = os.environ.get("LEAKSCAN_BENCH_BASELINE")
    codes = [("tuned", ROOT, ADVISED)]
    codes += [("new", ROOT, {})] if os.environ.get("LEAKSCAN_BENCH_DASK_DEFAULTS") else []
    codes += [("base", Path(baseline), ADVISED)] if baseline else []
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="dask-audit-", dir=WORK))
    out: dict[str, float] = {}
    try:
        with _registry(tmp) as host:
            sizes = {CASES[0][0]: _populate(host)[:2], CASES[1][0]: _populate_large(host)}
            empty = tmp / "empty"
            empty.mkdir()  # compile and cache the rules database once: not timed
            timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
            print(f"dask_audit: load before {os.getloadavg()[0]:.1f}")
            # local audits on 2 processes (the default on 2 cores) and on one (--jobs 1), the
            # references for 2 workers and 1 worker; between the clusters, as load drifts
            cases = (*CASES, ("empty", NO_REPO))
            locals_: dict[str, list[Audit]] = {case: [] for case, _ in cases}
            singles: dict[str, list[Audit]] = {case: [] for case, _ in cases}

            def local_round(tag: str) -> None:
                for case, repos in cases:
                    locals_[case].append(_locals(host, tmp, f"local{case[0]}{tag}", repos))
                    singles[case].append(
                        _locals(host, tmp, f"single{case[0]}{tag}", repos, "--jobs", "1")
                    )

            local_round("a")
            warm: dict[str, dict[str, Audit]] = {}
            for n in (1, 2):
                for code, root, env in codes:
                    warm[f"{code}{n}"] = _cluster_runs(host, tmp, f"{code}{n}", n, root, env)
                local_round(str(n))
            print(f"dask_audit: load after {os.getloadavg()[0]:.1f}")
            for case, _ in CASES:
                out.update(_case_report(case, sizes[case], locals_, singles, warm, codes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _case_report(
    case: str,
    size: tuple[int, int],
    all_locals: dict[str, list[Audit]],
    all_singles: dict[str, list[Audit]],
    warm: dict[str, dict[str, Audit]],
    codes: list[tuple[str, Path, dict[str, str]]],
) -> dict[str, float]:
    tags, unique_bytes = size
    locals_, singles = all_locals[case], all_singles[case]
    local, single = _best(locals_), _best(singles)
    local_empty, single_empty = _best(all_locals["empty"]), _best(all_singles["empty"])
    st = local.doc.get("stats", {})
    layers = int(st.get("layers_scanned", 0)) or 1
    prefix = case.split()[0]
    print(
        f"dask_audit: == {case}: {tags} tags, {layers} unique layers ({unique_bytes / 1e6:.0f} "
        f"MB compressed); local audit {local.seconds:.2f}s (best of {len(locals_)}: "
        f"{', '.join(f'{a.seconds:.2f}' for a in locals_)}), CPU {local.cpu:.2f}s, "
        f"{local.seconds / layers * 1000:.0f} ms and {local.cpu / layers * 1000:.0f} ms "
        "CPU per layer, all included"
    )
    print(
        f"dask_audit: local audit --jobs 1: {single.seconds:.2f}s (best of "
        f"{len(singles)}: {', '.join(f'{a.seconds:.2f}' for a in singles)}), CPU "
        f"{single.cpu:.2f}s"
    )
    out = {f"{prefix}_local_s": local.seconds}
    print(
        "dask_audit: warm clusters (best of two audits each), 1 worker against the local "
        "audit --jobs 1, 2 workers against the local audit on 2 processes:"
    )
    for n in (1, 2):
        for code, _, _ in codes:
            label = f"{code}{n}"
            reference = (single, single_empty) if n == 1 else (local, local_empty)
            got = _report(label, warm[label][case], reference[0], layers, warm[label]["empty"],
                          reference[1])  # fmt: skip
            out.update({f"{prefix}_{k}": v for k, v in got.items()})
    return out


if __name__ == "__main__":
    run()
