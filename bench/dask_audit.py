"""`leakscan audit` on this machine against the same audit on a loopback Dask cluster.

The registry of bench/registry.py (50 tags, 56 unique layers: one ~40 MB base shared by all,
five runtimes, one application layer per tag) is audited three times, each with a fresh state
and content cache: locally, on a cluster of one worker and on a cluster of two (one thread
each, as docs/scale.md advises). Printed: wall times, throughput ratios against the local
audit, and the coordinator's costs per layer (listing the registry, taking the workers'
records in, and the local pass that finds every layer cached).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import WORK, timed
from bench.registry import _populate, _registry
from tests.support.oci import REGISTRY_BIN


def _audit(host: str, tmp: Path, name: str, scheduler: str | None) -> tuple[float, dict[str, Any]]:
    report = tmp / f"{name}.json"
    cmd = [sys.executable, "-m", "leakscan.cli", "audit", host, "--insecure", "--state",
           str(tmp / f"{name}.sqlite"), "--cache", str(tmp / f"{name}.content.sqlite"),
           "--no-progress", "-f", "json", "-o", str(report), "--repo", "team*"]  # fmt: skip
    if scheduler:
        cmd += ["--scheduler", scheduler]
    run = timed(cmd)
    doc = json.loads(report.read_text()) if report.exists() else {}
    if run.returncode not in (0, 1):
        print(f"dask_audit: {name} audit failed (exit {run.returncode})")
    return run.seconds, doc


def _secs(run: tuple[float, dict[str, Any]]) -> float:
    return run[0]


def _report(
    n: int, label: str, dist_s: float, doc: dict[str, Any], local_s: float, local: dict[str, Any]
) -> dict[str, float]:
    c = doc.get("cluster", {})
    same = _findings(doc) == _findings(local)
    per_layer_ms = 1000 / max(1, c.get("tasks", 0))
    worker_busy = c.get("worker_seconds", 0.0) / n
    dispatch = c.get("cluster_seconds", 0.0) - worker_busy
    outside = dist_s - c.get("cluster_seconds", 0.0)
    st = doc.get("stats", {})
    print(
        f"dask_audit:   {label}: {dist_s:.2f}s -> throughput {local_s / dist_s:.2f}x the local "
        f"audit; findings {'identical' if same else 'DIFFERENT'}; {c.get('tasks')} tasks, "
        f"{c.get('left_local')} left local; local pass read {st.get('layers_scanned')} layers"
    )
    print(
        f"dask_audit:     per layer: worker scan {c.get('worker_seconds', 0.0) * per_layer_ms:.0f}"
        f" ms; coordinator: listing {c.get('plan_seconds', 0.0) * per_layer_ms:.1f} ms, "
        f"dispatch+collect {dispatch * per_layer_ms:.1f} ms, local pass "
        f"{c.get('local_seconds', 0.0) * per_layer_ms:.1f} ms; outside the cluster phase "
        f"(start, connect, listing, local pass) {outside * per_layer_ms:.1f} ms"
    )
    key = f"dask{n}_{label}"
    return {
        f"{key}_s": dist_s,
        f"{key}_ratio": local_s / dist_s,
        f"{key}_outside_ms_per_layer": outside * per_layer_ms,
    }


def _peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _findings(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((f["fingerprint"], len(f["locations"])) for f in doc.get("findings", []))


def run() -> dict[str, float]:
    if not Path(REGISTRY_BIN).exists():
        print("dask_audit: docker-registry is not installed; skipped")
        return {}
    if importlib.util.find_spec("distributed") is None:
        print("dask_audit: dask[distributed] is not installed (pip install '.[dask]'); skipped")
        return {}
    from tests.distributed.cluster import running_cluster

    WORK.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="dask-audit-", dir=WORK))
    out: dict[str, float] = {}
    try:
        with _registry(tmp) as host:
            tags, unique_bytes, _ = _populate(host)
            empty = tmp / "empty"
            empty.mkdir()  # compile and cache the rules database once: not timed
            timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
            # the machine may be shared: each figure is the best of two runs
            local_s, local = min((_audit(host, tmp, f"local{i}", None) for i in "ab"), key=_secs)
            st = local.get("stats", {})
            layers = int(st.get("layers_scanned", 0)) or 1
            print(
                f"dask_audit: {tags} tags ({unique_bytes / 1e6:.0f} MB of unique layers, "
                f"compressed); local audit {local_s:.2f}s ({unique_bytes / 1e6 / local_s:.1f} "
                f"MB/s; layers {layers} scanned, {st.get('layers_reused')} reused, "
                f"{int(st.get('bytes_downloaded', 0)) / 1e6:.0f} MB downloaded)"
            )
            out["local_s"] = local_s
            cache_b = (tmp / "locala.content.sqlite").stat().st_size
            state_b = (tmp / "locala.sqlite").stat().st_size
            print(
                f"dask_audit: coordinator files: content cache {cache_b / layers / 1024:.1f} KB "
                f"per layer, audit state {state_b / tags / 1024:.1f} KB per tag"
            )
            print(f"dask_audit: local: {local_s / layers * 1000:.0f} ms per layer, all included")
            for n in (1, 2):
                names = tuple(f"w{i}" for i in range(n))
                started = time.perf_counter()
                with running_cluster(tmp / f"cluster{n}", names) as cluster:
                    boot = time.perf_counter() - started
                    # cold: the workers import leakscan and load the rules on their first task;
                    # warm: a cluster that has audited before (each audit: fresh cache, state)
                    cold = _audit(host, tmp, f"dask{n}c", cluster.address)
                    warm = min(
                        (_audit(host, tmp, f"dask{n}{w}", cluster.address) for w in "wx"), key=_secs
                    )
                    runs = [cold, warm]
                    peaks = [_peak_rss_mb(p.pid) for p in cluster.workers.values()]
                print(
                    f"dask_audit: {n} worker(s) (cluster up in {boot:.1f}s, not counted); worker "
                    f"peak RSS {', '.join(f'{p:.0f}' for p in peaks)} MB"
                )
                for label, (dist_s, doc) in zip(("cold", "warm"), runs, strict=True):
                    out.update(_report(n, label, dist_s, doc, local_s, local))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    run()
