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
import mmap
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
from leakscan.pipes import widen_pipe

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

#: forked workers read batches from shared memory, this size a slot: a batch that does not
#: fit (a large streamed file) goes through the pipe as before
SLOT_BYTES = 12 * 1024 * 1024


def inflight_budget(jobs: int) -> int:
    """Bytes of batches sent and not yet collected that :meth:`BatchScanner.ready` lets stand
    (and one batch more while it is sent): what the slots hold (two a worker and two spare),
    whether a batch went through them or through the pipe (a stream larger than a slot:
    pickled, copied to a worker, up to ``STREAM_BYTES`` a batch). Measured on 12 streams of
    14-30 MiB: at most 103 MB sent and not collected, 141 MB before (five such batches)."""
    return (2 * jobs + 2) * SLOT_BYTES


# the detector of a worker process (inherited when forked, else built by the initializer)
_WORKER: Detector | None = None
# a forked worker's view of the parent's batch slots (shared memory mapped before the fork)
_SLOTS: list[mmap.mmap] = []


def default_jobs(workers_pay: bool = False) -> int:
    """Workers when the user does not say: none on a machine of 1-3 cores, where the main
    process (reading git objects) already takes a core and the transfer of batches costs
    more than a second worker gains (measured on 2 cores: git history 1.39 s serial vs
    1.65 s with 2 workers); up to 4 on larger machines.

    ``workers_pay``: a source whose reading keeps the main process busy (image layers) gets
    2 from 2 cores on, whatever the load: forked before the source starts, with batches in
    shared memory, they cost ~0.3 s of CPU on the 973 MB bench image (~1.1 s when started by
    the forkserver, when they only paid on a spare core), and they won at every load
    measured: 3.6-3.9 s against 5.2-5.5 s serial, and with two busy loops beside the
    scan 8.8-13.1 s against 14.0-15.4 s."""
    cores = os.cpu_count() or 1
    if cores < 4:
        return 2 if workers_pay and cores >= 2 else 1
    return min(4, cores - 1)


def _init_worker(
    detector: Detector | None,
    build: Callable[[], Detector] | None,
    slots: list[mmap.mmap] | None = None,
) -> None:
    global _WORKER, _SLOTS
    _SLOTS = slots or []
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


def _widen_pipe(pool: object) -> None:
    """Widen the pipe batches reach the workers through: through 64 KiB a 4 MiB batch is 64
    wake-ups of the sending thread and of a worker (6,600 a 973 MB image), each one waiting
    for a core when the machine is busy. Best effort: the pool works without it."""
    # the executor's call queue (a private attribute: left as it is where it differs)
    writer = getattr(getattr(pool, "_call_queue", None), "_writer", None)
    try:
        if writer is not None:
            widen_pipe(writer.fileno())
    except (OSError, ValueError) as exc:  # no descriptor (closed, or not a pipe's)
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


def _noop() -> None:
    return None


#: a batch item written in a slot: where its bytes start, their length, key name, windowed
_Span = tuple[int, int, str | None, bool]


def _scan_slot(slot: int, spans: list[_Span]) -> _BatchResult:
    """A batch the parent wrote in shared memory: each item's bytes copied out once (the
    pipe's way copies them four times: pickled, written, read, unpickled)."""
    view = _SLOTS[slot]
    return _scan_batch(
        [(view[at : at + n], context, windowed) for at, n, context, windowed in spans]
    )


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
    slot: int | None = None  # the shared-memory slot it was sent in, until its result is in


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
        self._inflight_bytes = 0  # the sizes of the batches in ``_inflight``
        self.broken = False
        self._slots: list[mmap.mmap] = []  # shared with forked workers
        self._free: list[int] = []
        self.timeouts = 0
        self.checksum_failures: Counter[str] = Counter()
        self.capped: Counter[str] = Counter()  # hits and regions over the detector's caps

    def _start(self, forked: bool = False) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver: safe with the threads some sources run (registry downloads, git
            # readers); workers rebuild the detector from the on-disk caches (~0.15 s of
            # imports and loading each, besides the forkserver's own start). Forked (only
            # while this process runs no other thread): they inherit the detector
            methods = multiprocessing.get_all_start_methods()
            detector: Detector | None = None
            build = self.build
            if forked and "fork" in methods:
                method = "fork"
                # enough slots for every batch in flight (``ready``) and the one being sent
                # (``inflight_budget`` is what they hold)
                self._slots = [mmap.mmap(-1, SLOT_BYTES) for _ in range(2 * self.jobs + 2)]
                self._free = list(range(len(self._slots)))
                detector, build = self.detector, None
            else:
                method = "forkserver" if "forkserver" in methods else "spawn"
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(detector, build, self._slots or None),
            )
            _widen_pipe(self._pool)
            log.debug("scanning in %d worker processes (%s)", self.jobs, method)
        return self._pool

    @property
    def started(self) -> bool:
        """Workers already running (forked before the source began): no serial start."""
        return self._pool is not None and not self.broken

    def prestart(self) -> None:
        """Fork the workers now if this process runs no other thread yet (a source about
        to start its readers): a forked worker costs a few ms, where one started by the
        forkserver spends ~0.15 s importing and loading the detector (and the forkserver
        ~0.2 s starting). Otherwise the pool starts with the first batch, as before."""
        if self._pool is not None or self.broken or threading.active_count() != 1:
            return
        try:
            with _sigint_ignored():
                pool = self._start(forked=True)
                # the processes of a forking pool are started with its first task: now,
                # while no other thread runs
                pool.submit(_noop)
        except Exception as exc:  # no fork here: the pool starts with the first batch
            log.debug("workers not forked (%s)", exc)
            self._release(wait=False)

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
                    pool = self._start()
                    if self._free and batch.size <= SLOT_BYTES:
                        batch.slot = self._free.pop()
                        spans = self._write(self._slots[batch.slot], batch.items)
                        future = pool.submit(_scan_slot, batch.slot, spans)
                    else:
                        future = pool.submit(_scan_batch, batch.items)
            except Exception as exc:  # no pool (pickling, fork limits...): scan here
                log.warning("worker processes unavailable (%s); scanning here", exc)
                self.broken = True
        self._inflight.append((batch, future))
        self._inflight_bytes += batch.size

    @staticmethod
    def _write(slot: mmap.mmap, items: list[_Item]) -> list[_Span]:
        spans: list[_Span] = []
        at = 0
        for data, context, windowed in items:
            n = len(data)
            slot[at : at + n] = data
            spans.append((at, n, context, windowed))
            at += n
        return spans

    def _finish(
        self, batch: _Batch, future: Future[_BatchResult] | None
    ) -> list[tuple[object, list[Match]]]:
        self._inflight_bytes -= batch.size
        results: list[list[Match]] | None = None
        if batch.slot is not None:  # read: free for another batch once this one is done
            if future is not None:
                try:
                    future.exception()
                except BaseException:  # cancelled: no worker holds it either
                    pass
            self._free.append(batch.slot)
            batch.slot = None
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
        two batches per worker, or more bytes than :func:`inflight_budget`, are in flight, so
        memory stays bounded (a batch of a large stream counts for its size, not for one)."""
        out: list[tuple[object, list[Match]]] = []
        budget = inflight_budget(self.jobs)
        while self._inflight:
            batch, future = self._inflight[0]
            too_many = len(self._inflight) > 2 * self.jobs or self._inflight_bytes > budget
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
        self._release(wait=True)

    def _release(self, wait: bool) -> None:
        """Shut the pool down (``wait``: for its workers to exit) and unmap the slots."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None
        for slot in self._slots:
            slot.close()
        self._slots, self._free = [], []
