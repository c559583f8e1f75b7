"""Engine throughput: one core, all rules loaded, over Python's standard library in memory."""

from __future__ import annotations

import time

from bench.common import stdlib_copy
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules


def run() -> dict[str, float]:
    root = stdlib_copy()
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    contents = [p.read_bytes() for p in files]
    total = sum(len(c) for c in contents)
    rules = load_rules()
    t0 = time.perf_counter()
    detector = Detector(rules, use_cache=False)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Detector(rules)  # warm the on-disk cache, then time a cached load
    Detector(rules)
    cached_s = (time.perf_counter() - t0) / 2
    started = time.perf_counter()
    matches = 0
    for content in contents:
        matches += len(detector.scan(content))
    seconds = time.perf_counter() - started
    mbps = total / 1e6 / seconds
    full = sum(1 for m in detector.compiled.modes.values() if m == "full")
    print(
        f"engine: {len(rules)} rules ({full} in Hyperscan as written), "
        f"compile {compile_s:.2f}s, cached load {cached_s * 1000:.0f} ms"
    )
    print(
        f"engine: {total / 1e6:.1f} MB in {len(contents)} files in {seconds:.2f}s = "
        f"{mbps:.0f} MB/s on one core ({matches} matches); aim >= 300 MB/s"
    )
    return {"engine_mb_s": mbps}
