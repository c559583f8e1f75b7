"""Blob batches scanned in a process pool: the parallel unit of content.

The main process keeps reading sources (git cat-file, tar members, files) while worker
processes run the detector over batches of in-memory blobs. Results come back in submission
order, so findings and their locations are the same as in a serial run. The pool starts only
once a run has scanned enough bytes for it to pay (small CI scans never start it), and a
broken pool falls back to scanning in the main process.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leakscan.engine.detector import Detector
from leakscan.model import Match

if TYPE_CHECKING:  # imported when a pool starts (~10 ms a run without one does not spend)
    from concurrent.futures import Future, ProcessPoolExecutor

log = logging.getLogger(__name__)

BATCH_BYTES = 4 * 1024 * 1024  # a batch is sent when it holds this much content...
BATCH_BLOBS = 512  # ...or this many blobs
START_AFTER_BYTES = 24 * 1024 * 1024  # scanned serially before a pool is worth starting
#: an image layer's file streamed (larger than the in-memory limit) goes to a worker whole
#: up to this size (read in the main process, scanned in the worker in the same windows):
#: scanned in the main process, it stopped the pipeline while the workers waited
STREAM_BYTES = 32 * 1024 * 1024

# the detector of a worker process (inherited when forked, else built by the initializer)
_WORKER: Detector | None = None


def default_jobs(
    workers_pay: bool = False, loadavg: Callable[[], tuple[float, float, float]] | None = None
) -> int:
    """Workers when the user does not say: none on a machine of 1-3 cores, where the main
    process (reading git objects, inflating layers) already takes a core and the transfer of
    batches costs more than a second worker gains (measured on 2 cores: git history 1.39 s
    serial vs 1.65 s with 2 workers); up to 4 on larger machines.

    ``workers_pay``: a source whose reading keeps the main process busy (image layers) gets
    2 from 2 cores on, when a core is spare (the last minute's load average at most one less
    than the cores): on the 973 MB bench image 4.3-4.6 s against 5.4 s serial when the
    machine was quiet, but 1.15-1.2x the serial time at a load of 3-6 on 2 cores, where the
    workers' extra CPU (~1.1 s: starting them, sending batches) only adds to the wait."""
    cores = os.cpu_count() or 1
    if cores < 4:
        spare = workers_pay and cores >= 2 and _spare_core(cores, loadavg or os.getloadavg)
        return 2 if spare else 1
    return min(4, cores - 1)


def _spare_core(cores: int, loadavg: Callable[[], tuple[float, float, float]]) -> bool:
    try:
        return loadavg()[0] <= cores - 1
    except OSError:  # not known here: as on an idle machine
        return True


def _init_worker(detector: Detector | None, build: Callable[[], Detector] | None) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group: the parent stops the scan and reports; a
    # worker finishes its batch quietly (no KeyboardInterrupt traceback from each one)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = detector if detector is not None else build() if build else None


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while worker processes start: an ignored signal stays ignored in the
    processes started meanwhile, before their first line of Python runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


#: the pipe batches go through to the workers (Linux: 64 KiB unless widened; 1 MiB is the
#: most an unprivileged process may ask for)
PIPE_BYTES = 1 << 20


def _widen_pipe(pool: object) -> None:
    """Widen the pipe batches reach the workers through: through 64 KiB a 4 MiB batch is 64
    wake-ups of the sending thread and of a worker (6,600 a 973 MB image), each one waiting
    for a core when the machine is busy. Best effort: the pool works without it."""
    try:
        import fcntl

        # the executor's call queue (a private attribute: left as it is where it differs)
        writer = getattr(getattr(pool, "_call_queue", None), "_writer", None)
        setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
        if writer is not None and setpipe is not None:
            fcntl.fcntl(writer.fileno(), setpipe, PIPE_BYTES)
    except (ImportError, OSError, ValueError) as exc:
        log.debug("batch pipe left at its size (%s)", exc)


_BatchResult = tuple[list[list[Match]], int, dict[str, int], dict[str, int]]


#: a batch item: the bytes, their key name, whether they are a stream's (scanned in windows)
_Item = tuple[bytes, str | None, bool]


def _scan_item(detector: Detector, data: bytes, context: str | None, windowed: bool) -> list[Match]:
    """One item's matches: a stream's bytes as :meth:`Detector.scan_stream` reads them (its
    windows), so a stream finds the same in a worker as in the main process."""
    if windowed:
        return detector.scan_stream(io.BytesIO(data), context)
    return detector.scan(data, context)


def _scan_batch(items: list[_Item]) -> _BatchResult:
    assert _WORKER is not None
    before = _WORKER.timeouts
    _WORKER.checksum_failures.clear()
    _WORKER.capped.clear()
    results = [_scan_item(_WORKER, *item) for item in items]
    return (
        results,
        _WORKER.timeouts - before,
        dict(_WORKER.checksum_failures),
        dict(_WORKER.capped),
    )


@dataclass(slots=True)
class _Batch:
    items: list[_Item] = field(default_factory=list)
    tokens: list[object] = field(default_factory=list)
    size: int = 0


class BatchScanner:
    """Scans (data, context) items in worker processes; results in submission order.

    ``submit(token, data, context)`` queues an item; ``done`` yields ``(token, matches)`` for
    items whose batch completed, oldest first. ``drain()`` waits for everything.
    """

    def __init__(
        self, detector: Detector, jobs: int, build: Callable[[], Detector] | None = None
    ) -> None:
        self.detector = detector
        self.jobs = jobs
        self.build = build
        self._pool: ProcessPoolExecutor | None = None
        self._batch = _Batch()
        self._inflight: deque[tuple[_Batch, Future[_BatchResult] | None]] = deque()
        self.broken = False
        self.timeouts = 0
        self.checksum_failures: Counter[str] = Counter()
        self.capped: Counter[str] = Counter()  # hits and regions over the detector's caps

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver: safe with the threads some sources run (registry downloads, git
            # readers); workers rebuild the detector from the on-disk caches in ~0.1 s
            methods = multiprocessing.get_all_start_methods()
            method = "forkserver" if "forkserver" in methods else "spawn"
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(None, self.build),
            )
            _widen_pipe(self._pool)
            log.debug("scanning in %d worker processes (%s)", self.jobs, method)
        return self._pool

    def submit(
        self, token: object, data: bytes, context: str | None, windowed: bool = False
    ) -> None:
        """Queue an item (``windowed``: a stream's bytes, scanned as the stream would be)."""
        batch = self._batch
        batch.items.append((data, context, windowed))
        batch.tokens.append(token)
        batch.size += len(data)
        if batch.size >= BATCH_BYTES or len(batch.items) >= BATCH_BLOBS:
            self._send()

    def _send(self) -> None:
        batch, self._batch = self._batch, _Batch()
        if not batch.items:
            return
        future: Future[_BatchResult] | None = None
        if not self.broken:
            try:
                with _sigint_ignored():  # workers (and a forkserver) start ignoring Ctrl-C
                    future = self._start().submit(_scan_batch, batch.items)
            except Exception as exc:  # no pool (pickling, fork limits...): scan here
                log.warning("worker processes unavailable (%s); scanning here", exc)
                self.broken = True
        self._inflight.append((batch, future))

    def _finish(
        self, batch: _Batch, future: Future[_BatchResult] | None
    ) -> list[tuple[object, list[Match]]]:
        results: list[list[Match]] | None = None
        if future is not None:
            try:
                results, timeouts, failures, capped = future.result()
                self.timeouts += timeouts
                self.checksum_failures.update(failures)
                self.capped.update(capped)
            except Exception as exc:  # a dead worker: its batch is scanned here
                log.warning("a worker process failed (%s); scanning its batch here", exc)
                self.broken = True
        if results is None:
            results = [_scan_item(self.detector, *item) for item in batch.items]
        return list(zip(batch.tokens, results, strict=True))

    def ready(self, block: bool = False) -> list[tuple[object, list[Match]]]:
        """Results of completed batches (oldest first); with ``block``, wait while more than
        two batches per worker are in flight, so memory stays bounded."""
        out: list[tuple[object, list[Match]]] = []
        while self._inflight:
            batch, future = self._inflight[0]
            too_many = len(self._inflight) > 2 * self.jobs
            if future is not None and not future.done() and not (block and too_many):
                break
            self._inflight.popleft()
            out.extend(self._finish(batch, future))
        return out

    def drain(self) -> list[tuple[object, list[Match]]]:
        self._send()
        out: list[tuple[object, list[Match]]] = []
        while self._inflight:
            batch, future = self._inflight.popleft()
            out.extend(self._finish(batch, future))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
