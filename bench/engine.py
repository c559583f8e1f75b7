"""Engine throughput: one core, all rules loaded, over Python's standard library in memory.

Measured in a child process: the bench process stays small, so that the peak RSS of the tools
it starts afterwards is theirs (a child's peak RSS counts its parent's pages before ``exec``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.common import stdlib_copy
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules


def run() -> dict[str, float]:
    stdlib_copy()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engine"], stdout=subprocess.PIPE, text=True, check=True
    )
    *lines, result = proc.stdout.splitlines()
    print("\n".join(lines), flush=True)
    return dict(json.loads(result))


def measure() -> dict[str, float]:
    root = stdlib_copy()
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    contents = [p.read_bytes() for p in files]
    total = sum(len(c) for c in contents)
    rules = load_rules()
    t0 = time.perf_counter()
    detector = Detector(rules, use_cache=False)
    compile_s = time.perf_counter() - t0
    Detector(rules)  # warm the on-disk cache, then time a cached load
    t0 = time.perf_counter()
    Detector(rules)
    cached_s = time.perf_counter() - t0
    seconds = cpu = float("inf")
    for _ in range(3):  # the best of 3 passes: the machine is shared
        started, cpu_started = time.perf_counter(), time.process_time()
        matches = 0
        for content in contents:
            matches += len(detector.scan(content))
        seconds = min(seconds, time.perf_counter() - started)
        # one thread: CPU time gives per-core throughput, whatever the neighbours' load
        cpu = min(cpu, time.process_time() - cpu_started)
    mbps = total / 1e6 / seconds
    cpu_mbps = total / 1e6 / cpu
    full = sum(1 for m in detector.compiled.modes.values() if m == "full")
    print(
        f"engine: {len(rules)} rules ({full} in Hyperscan as written), "
        f"compile {compile_s:.2f}s, cached load {cached_s * 1000:.0f} ms"
    )
    print(
        f"engine: {total / 1e6:.1f} MB in {len(contents)} files in {seconds:.2f}s (best of 3) = "
        f"{mbps:.0f} MB/s on one core, {cpu_mbps:.0f} MB/s of CPU time ({matches} matches); "
        "aim >= 300 MB/s (the peers have no engine apart: see dirscan's MB/s for the tools whole)"
    )
    return {"engine_mb_s": mbps, "engine_cpu_mb_s": cpu_mbps}


if __name__ == "__main__":
    print(json.dumps(measure()))
