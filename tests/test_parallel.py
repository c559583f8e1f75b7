"""Scanning in worker processes gives exactly the findings of a serial scan."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from leakscan import parallel
from leakscan.cli import app
from tests.helpers import aws_key_id, github_token, write_rules

REPO = Path(__file__).resolve().parents[1]


def test_parallel_scan_matches_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("leakscan.api.START_AFTER_BYTES", 0)
    monkeypatch.setattr(parallel, "BATCH_BLOBS", 7)
    rules = write_rules(tmp_path / "rules")
    tree = tmp_path / "tree"
    tree.mkdir()
    shared = github_token()
    for i in range(60):
        lines = [f"line {j}" for j in range(40)]
        lines[i % 40] = f"token = {shared if i % 3 == 0 else github_token()}"
        if i % 7 == 0:
            lines.append(f"aws_access_key_id = {aws_key_id()}")
        (tree / f"f{i:02}.txt").write_text("\n".join(lines) + "\n")
    (tree / "dup.txt").write_text((tree / "f00.txt").read_text())  # same content twice
    runner = CliRunner()
    docs = []
    for jobs in ("1", "2"):
        result = runner.invoke(
            app,
            ["scan", str(tree), "--rules", str(rules), "-f", "json", "--show-secrets", "-j", jobs],
        )
        assert result.exit_code == 1, result.output
        docs.append(json.loads(result.stdout))
    serial, par = docs
    assert par["findings"] == serial["findings"]
    assert len(serial["findings"]) > 40
    shared_finding = next(f for f in serial["findings"] if f.get("secret") == shared)
    assert len(shared_finding["locations"]) == 21
    assert par["stats"]["blobs"] == serial["stats"]["blobs"] == 60
    assert par["stats"]["cached_blobs"] == serial["stats"]["cached_blobs"] == 1


def test_bad_jobs_value_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "x"), "-j", "-3"])
    assert result.exit_code == 2


def test_progress_is_reported_per_source_in_bytes(tmp_path: Path) -> None:
    from leakscan.api import ScanConfig, scan
    from leakscan.sources.filesystem import FilesystemSource

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, object]] = []

        def task(self, description: str, total: int | None = None, unit: str = "B") -> None:
            self.calls.append(("task", description))

        def advance(self, amount: int = 1) -> None:
            self.calls.append(("advance", amount))

        def done(self) -> None:
            self.calls.append(("done", None))

    (tmp_path / "a.txt").write_text("x" * 100)
    (tmp_path / "b.txt").write_text("y" * 50)
    rec = Recorder()
    config = ScanConfig(rule_paths=(write_rules(tmp_path / "rules"),), include_builtin=False)
    scan(lambda options: [FilesystemSource(str(tmp_path), options)], config, rec)
    assert rec.calls[0] == ("task", f"scan {tmp_path}"[:60])
    assert sum(a for kind, a in rec.calls if kind == "advance") >= 150  # type: ignore[misc]
    assert rec.calls[-1] == ("done", None)


def test_interrupted_scan_still_reports_what_it_found(tmp_path: Path) -> None:
    from collections.abc import Iterator

    from leakscan.api import ScanConfig, scan
    from leakscan.model import Blob, Provenance, Skip
    from leakscan.sources.interface import ScanContext, Source

    token = github_token()

    class Interrupted(Source):
        name = "interrupted"

        def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
            yield Blob(Provenance("file", {"path": "a"}), data=f"t={token}\n".encode())
            raise KeyboardInterrupt

    config = ScanConfig(rule_paths=(write_rules(tmp_path / "rules"),), include_builtin=False)
    result = scan([Interrupted()], config)
    assert [f.secret for f in result.findings] == [token]
    assert result.errors == ["interrupted: the scan did not complete"]


def test_on_two_cores_only_a_source_that_keeps_the_reader_busy_gets_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Image layers are read and walked by the main process: two workers pay on 2 cores
    (even on a busy machine); git and folders stay serial there."""
    from collections.abc import Iterator

    from leakscan.api import ScanConfig, Scanner
    from leakscan.model import Blob, Skip
    from leakscan.sources.image.source import ImageSource
    from leakscan.sources.interface import ScanContext, Source

    class Folder(Source):
        name = "folder"

        def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
            return iter(())

    class Layers(Folder):
        workers_pay = ImageSource.workers_pay

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert parallel.default_jobs() == 1 and parallel.default_jobs(workers_pay=True) == 2
    scanner = Scanner(ScanConfig())
    try:
        scanner.run(Folder())
        assert scanner.context.scan is not None  # no pool: git's reader may scan itself
        workers: list[object] = []
        layers = Layers()
        layers.blobs = lambda ctx: (workers.append(ctx.scan), iter(()))[1]  # type: ignore[method-assign]
        scanner.run(layers)
        assert workers == [None]  # while the layers are read, the workers scan
        scanner.run(Folder())  # and they end with that source: a folder after it is serial
        assert scanner.context.scan is not None and scanner._batcher is None
    finally:
        scanner.close()
    explicit = Scanner(ScanConfig(jobs=1))  # -j 1 is kept
    try:
        explicit.run(Layers())
        assert explicit.context.scan is not None
    finally:
        explicit.close()
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 1)
    assert parallel.default_jobs(workers_pay=True) == 1


def test_image_streams_scanned_by_workers_find_what_a_serial_scan_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layer file larger than the in-memory limit is read whole and scanned by a worker in
    the windows the main process would use: the same findings, lines and cached matches."""
    from leakscan.api import ScanConfig, scan
    from leakscan.sources.image.source import image_sources
    from leakscan.sources.interface import SourceOptions
    from leakscan.store.content_cache import ContentCache
    from tests.sources.image.helpers import tar_bytes, write_oci_layout

    monkeypatch.setattr("leakscan.api.START_AFTER_BYTES", 0)
    tokens = [github_token() for _ in range(4)]
    big = "\n".join(
        f"token = {tokens[i // 150]}" if i % 150 == 75 else f"filler line {i}" for i in range(600)
    ).encode()  # ~10 KB: a stream
    layer = tar_bytes(
        [
            ("app/big.txt", big),
            ("app/copy.txt", big),
            ("app/small.env", f"T={tokens[0]}\n".encode()),
        ]
    )
    write_oci_layout(tmp_path / "oci", [(layer, "gzip")])
    ref = f"oci:{tmp_path / 'oci'}:v1"
    rules = write_rules(tmp_path / "rules")
    results = []
    for jobs in (1, 2):
        config = ScanConfig(
            rule_paths=(rules,),
            include_builtin=False,
            jobs=jobs,
            options=SourceOptions(in_memory_bytes=2048),
        )
        cache = ContentCache.open(tmp_path / f"cache{jobs}.sqlite", "k")
        results.append(scan(lambda options: image_sources([ref], options), config, None, cache))
        cache.close()
        stored = ContentCache.open(tmp_path / f"cache{jobs}.sqlite", "k")
        assert stored.known(f"sha256:{hashlib.sha256(big).hexdigest()}")  # its matches kept
        stored.close()
    serial, par = results

    def places(result: object) -> list[tuple[str | None, list[tuple[str, int | None]]]]:
        return [
            (f.secret, [(str(loc.provenance.fields["path"]), loc.line) for loc in f.locations])
            for f in result.findings  # type: ignore[attr-defined]
        ]

    assert places(par) == places(serial)
    # the workers were given the stream: its copy was known by its digest before it was read
    assert par.stats.cached_blobs == serial.stats.cached_blobs + 1
    assert {f.secret for f in serial.findings} == set(tokens)
    found = dict(places(serial))
    assert found[tokens[3]] == [("app/big.txt", 526), ("app/copy.txt", 526)]


def _forked_up_front(slot_bytes: int, rules: str) -> dict[str, object]:
    """The scenario of the test below, run in a fresh interpreter: a long test run keeps
    threads of earlier tests (the registry watchdog), and workers are forked only in a
    process that runs no other thread."""
    import multiprocessing
    import threading

    from leakscan.engine.build import DetectorSettings

    parallel.SLOT_BYTES = slot_bytes
    parallel.BATCH_BYTES = 1  # a batch per item: several in flight
    written: list[int] = []
    write = parallel.BatchScanner._write

    def spy(slot: object, items: list[tuple[bytes, str | None, bool]]) -> object:
        written.append(id(slot))
        return write(slot, items)  # type: ignore[arg-type]

    parallel.BatchScanner._write = staticmethod(spy)  # type: ignore[method-assign,assignment]
    detector = DetectorSettings(rule_paths=(Path(rules),), include_builtin=False)()
    tokens = [github_token() for _ in range(32)]
    items: list[tuple[bytes, str | None, bool]] = []
    for i, token in enumerate(tokens):  # small ones fit a 64-byte slot, the others do not
        if i % 4 == 0:
            items.append((f"t={token}\n".encode(), None, False))
        elif i % 4 == 1:
            items.append((b"nothing here\n" * 20 + f"a = {token}\n".encode(), None, False))
        elif i % 4 == 2:
            items.append((f"key: {token}\n".encode() * 3, "config.yaml", False))
        else:  # a stream's bytes
            items.append((("filler\n" * 200 + f"t={token}\n").encode(), None, True))
    # no ``build``: a worker not forked from this process (forkserver) has no detector
    batcher = parallel.BatchScanner(detector, 2)
    source_thread_started = threading.Event()
    stop = threading.Event()

    def read() -> None:  # a source's reading thread, alive while the batches are scanned
        source_thread_started.set()
        stop.wait()

    reader = threading.Thread(target=read)
    try:
        batcher.prestart()
        workers = {p.pid for p in multiprocessing.active_children()}
        reader.start()
        source_thread_started.wait()
        got = []
        for i, (data, context, windowed) in enumerate(items):
            batcher.submit(i, data, context, windowed)
            got += batcher.ready(block=True)  # as the scanner collects them
        got += batcher.drain()
        later = {p.pid for p in multiprocessing.active_children()}
        broken, slots = batcher.broken, len(batcher._slots)
    finally:
        stop.set()
        batcher.close()
        if reader.is_alive():
            reader.join()
    return {
        "workers": len(workers),
        "none_later": later == workers,
        "broken": broken,
        "order": [token for token, _ in got],
        "found": [[m.secret for m in ms] for _, ms in got],
        "expected": [
            [m.secret for m in detector.scan(data, context)] for data, context, _ in items
        ],
        "written": len(written),
        "distinct": len(set(written)),
        "fitting": len([data for data, *_ in items if len(data) <= slot_bytes]),
        "slots": slots,
    }


@pytest.mark.parametrize("slot_bytes", [parallel.SLOT_BYTES, 64])
def test_workers_forked_up_front_find_what_the_detector_finds(
    tmp_path: Path, slot_bytes: int
) -> None:
    """Workers forked before a source starts its threads (batches through shared memory, or
    through the pipe when a batch is larger than a slot) give each item the detector's own
    matches, in submission order; a slot whose batch is collected takes another batch."""
    rules = write_rules(tmp_path / "rules")
    probe = (
        "import json; from tests.test_parallel import _forked_up_front; "
        f"print(json.dumps(_forked_up_front({slot_bytes}, {str(rules)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["workers"] == 2  # forked at prestart, before the source's reading thread
    assert out["none_later"] and not out["broken"]
    assert out["order"] == list(range(32))
    assert out["found"] == out["expected"] and all(out["found"])
    # every batch that fits a slot went through one, more batches than there are slots
    assert out["written"] == out["fitting"] > out["slots"]
    assert out["distinct"] <= out["slots"]  # the same slots, taken again


class _SlowPool:
    """A pool whose batches are scanned only when their result is asked for (the slowest
    workers there can be), counting the bytes sent and not yet scanned."""

    def __init__(self) -> None:
        self.inflight = 0
        self.most = 0

    def submit(self, fn: object, *args: object) -> object:
        from concurrent.futures import Future

        pool = self
        batch = cast(list[tuple[bytes, str | None, bool]], args[0])
        size = sum(len(data) for data, _context, _windowed in batch)

        class Lazy(Future):  # type: ignore[type-arg]
            def _run(self) -> None:
                if not super().done():
                    self.set_result(fn(*args))  # type: ignore[operator]
                    pool.inflight -= size

            def result(self, timeout: float | None = None) -> object:
                self._run()
                return super().result()

            def exception(self, timeout: float | None = None) -> BaseException | None:
                self._run()
                return super().exception()

        self.inflight += size
        self.most = max(self.most, self.inflight)
        return Lazy()

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        return None


def test_bytes_in_flight_stay_within_the_slots_size_whatever_the_batches_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams larger than a slot (each its own batch, through the pipe) are not let pile up
    two a worker: the bytes sent and not collected stay within what the slots hold."""
    from leakscan.engine.build import DetectorSettings

    rules = write_rules(tmp_path / "rules")
    detector = DetectorSettings(rule_paths=(rules,), include_builtin=False)()
    monkeypatch.setattr(parallel, "SLOT_BYTES", 1000)
    monkeypatch.setattr(parallel, "BATCH_BYTES", 1)  # a batch an item
    monkeypatch.setattr(parallel, "_WORKER", detector)
    pool = _SlowPool()
    monkeypatch.setattr(parallel.BatchScanner, "_start", lambda self, forked=False: pool)
    tokens = [github_token() for _ in range(12)]
    items = [(f"t={t}\n".encode() + b"filler line\n" * 210, None, True) for t in tokens]
    assert all(parallel.SLOT_BYTES < len(data) < 3 * parallel.SLOT_BYTES for data, *_ in items)
    batcher = parallel.BatchScanner(detector, 2)
    budget = 6 * parallel.SLOT_BYTES  # 2 workers: 6 slots
    got = []
    for i, (data, context, windowed) in enumerate(items):
        batcher.submit(i, data, context, windowed)
        got += batcher.ready(block=True)
        assert pool.inflight <= budget  # as the scanner leaves it after each item
    got += batcher.drain()
    assert pool.most > budget // 2  # the bound was met, not only never approached
    assert [token for token, _ in got] == list(range(12))
    assert [[m.secret for m in ms] for _, ms in got] == [[t] for t in tokens]
