"""Reading and comparing blobs in a second process while this one scans.

Reading a history's blobs (``git cat-file``, the binary sniff, the changed lines of each
edit: :mod:`.delta`) costs about as much CPU as scanning them. On a machine with a second core,
:class:`Forked` forks a child that does the reading and sends each blob's outcome (an "event",
a small tuple) through a pipe, while this process reads the commits and scans what it has
received. The events are those the in-process reader yields, in the same order, so what is
found, and where, does not depend on the transport. The child runs ahead of the scanner by up
to :data:`AHEAD_BYTES` of events held in its memory (the commits are read meanwhile).

When this process falls behind (more than :data:`SCAN_BACKLOG` events sent and not yet
taken, counted in memory both processes share), the child scans the next blob itself with
the run's detector (``ScanContext.scan``) and sends its matches instead of its bytes: both
cores scan, and the matches are those this process would have found (the same detector, the
same bytes), so the report does not depend on which process scanned what. The child's
detector counters (regex cut-offs, checksum failures) come back as its last event.

A streamed blob (larger than the in-memory limit) is sent as its header followed by its raw
bytes, which the scanner reads from the pipe through a bounded reader. An error in the child (a
:class:`SourceError` of a damaged repository, or anything else) is sent as the last event and
raised here. Linux only (``fork`` with the detector already built, no re-import); elsewhere,
and on one core, the reading stays in this process.
"""

from __future__ import annotations

import gc
import mmap
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque
from collections.abc import Callable, Iterator
from itertools import islice
from typing import IO, Any

from leakscan.pipes import PIPE_BYTES, widen_pipe
from leakscan.sources.git.catfile import BoundedReader
from leakscan.sources.interface import ScanHere, SourceError

# event kinds (the first item of an event tuple)
SKIP, BLOB, ARCHIVE, STREAM, READS, SCANNED = 0, 1, 2, 3, 4, 5
_TALLY, _BYTES, _DONE, _ERROR = 6, 7, 8, 9
_COPY = 1 << 20
#: reading moves to a child process from this many planned blobs on (fewer: the fork and the
#: pipe cost more than they save); tests set it to 0 to read every history in a child
FORK_FROM_BLOBS = 400
#: events the child holds while the scanner is busy elsewhere (reading the commits)
AHEAD_BYTES = 64 * 1024 * 1024
#: the child scans a blob itself while more than this many of its events wait to be taken
#: (the scanner is behind); tests set it to -1 to scan every blob in the child
SCAN_BACKLOG = 256
_FLUSH_BYTES = 64 * 1024  # events are written to the pipe in pieces of about this size

Event = tuple[Any, ...]


def usable(planned: int) -> bool:
    """Whether a plan of ``planned`` blobs is read in a child process."""
    if planned < FORK_FROM_BLOBS or not sys.platform.startswith("linux"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores >= 2


class Forked:
    """The events of ``produce()``, computed in a child forked at once, read by iterating.

    ``close()`` ends the child if its events were not all read (an abandoned scan)."""

    def __init__(
        self, produce: Callable[[], Iterator[Event]], name: str, scan: ScanHere | None = None
    ) -> None:
        self._name = name
        self._scan = scan
        self._taken = mmap.mmap(-1, 8)  # events taken so far, shared with the child
        rfd, wfd = os.pipe()
        widen_pipe(rfd)
        sys.stdout.flush()
        sys.stderr.flush()
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns
            os.close(rfd)
            _child(produce, wfd, scan, self._taken)
        os.close(wfd)
        self._pipe = os.fdopen(rfd, "rb", buffering=PIPE_BYTES)
        self._finished = False

    def __iter__(self) -> Iterator[Event]:
        pipe, taken, pack = self._pipe, 0, struct.pack_into
        try:
            while True:
                pack("q", self._taken, 0, taken)
                taken += 1
                try:
                    event = pickle.load(pipe)
                except EOFError:
                    raise SourceError(f"{self._name}: git object reader stopped") from None
                kind = event[0]
                if kind == _DONE:
                    self._finished = True
                    return
                if kind == _ERROR:
                    self._finished = True
                    raise event[1]
                if kind == _TALLY:
                    assert self._scan is not None
                    self._scan.add_counts(event[1])
                    taken -= 1
                    continue
                if kind == STREAM:
                    reader = BoundedReader(pipe, event[2])
                    yield (*event, reader)
                    reader.drain()
                    continue
                if kind == _BYTES:  # an event whose bytes follow it raw
                    items = list(event[1])
                    for at, size in event[2]:
                        items[at] = _read(pipe, size, self._name)
                    event = tuple(items)
                yield event
        finally:
            self.close()

    def close(self) -> None:
        if self._pid <= 0:
            return
        pid, self._pid = self._pid, 0
        if not self._finished:  # abandoned: the child may be blocked on a full pipe
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self._pipe.close()
        os.waitpid(pid, 0)


def _read(pipe: IO[bytes], size: int, name: str) -> bytes:
    data = pipe.read(size)
    if len(data) != size:
        raise SourceError(f"{name}: git object reader stopped")
    return data


class _Outbox:
    """Pickled events on their way to the pipe, written without blocking as the pipe takes
    them: what does not fit waits here (``held`` bytes; the scanner is behind), at most
    ``AHEAD_BYTES`` of it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._items: deque[bytes | memoryview] = deque()
        self.held = 0

    def put(self, data: bytes | memoryview) -> None:
        self._items.append(data)
        self.held += len(data)
        if self.held >= _FLUSH_BYTES:
            self.flush(wait=self.held > AHEAD_BYTES)

    def flush(self, wait: bool = False) -> None:
        """Write what the pipe takes (``wait``: until at most ``AHEAD_BYTES`` are held)."""
        items, fd = self._items, self._fd
        while items:
            try:
                written = os.writev(fd, list(islice(items, 512)))  # IOV_MAX is 1024
            except BlockingIOError:
                if not wait or self.held <= AHEAD_BYTES:
                    return
                select.select([], [fd], [])
                continue
            self.held -= written
            while written:
                first = items[0]
                if written >= len(first):
                    written -= len(first)
                    items.popleft()
                else:  # the rest of a partly written one
                    items[0] = memoryview(first)[written:]
                    written = 0

    def finish(self) -> None:
        os.set_blocking(self._fd, True)
        self.flush()


def _child(
    produce: Callable[[], Iterator[Event]], wfd: int, scan: ScanHere | None, taken: mmap.mmap
) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the scan
        # no collection in the child: it would touch (and so copy) every page of the heap it
        # shares with the parent, and the reading makes no reference cycles
        gc.disable()
        if scan is not None:
            scan.start_counting()
        out = _Outbox(wfd)
        dumps = pickle.dumps
        sent = 0
        unpack = struct.unpack_from
        try:
            for event in produce():
                sent += 1
                kind = event[0]
                if kind == STREAM:
                    reader = event[3]  # a BoundedReader, or a Prefixed over one
                    out.put(dumps(event[:3], protocol=pickle.HIGHEST_PROTOCOL))
                    while chunk := reader.read(_COPY):
                        out.put(chunk)
                    continue
                if (
                    kind == BLOB
                    and scan is not None
                    and sent - unpack("q", taken, 0)[0] > SCAN_BACKLOG
                ):
                    out.put(dumps(_scanned(event, scan), protocol=pickle.HIGHEST_PROTOCOL))
                    continue
                sizes = [(at, len(x)) for at, x in enumerate(event) if type(x) is bytes]
                if not sizes:
                    out.put(dumps(event, protocol=pickle.HIGHEST_PROTOCOL))
                    continue
                # the bytes follow raw (no copy into a pickle)
                rest = tuple(None if type(x) is bytes else x for x in event)
                out.put(dumps((_BYTES, rest, sizes), protocol=pickle.HIGHEST_PROTOCOL))
                for at, _ in sizes:
                    out.put(event[at])
            if scan is not None:
                out.put(dumps((_TALLY, scan.counts())))
            out.put(dumps((_DONE,)))
        except BrokenPipeError:
            code = 1
        except BaseException as exc:  # sent to the parent as it is
            if scan is not None:
                out.put(dumps((_TALLY, scan.counts())))
            try:
                out.put(dumps((_ERROR, exc)))
            except Exception:  # an exception that does not pickle
                out.put(dumps((_ERROR, SourceError(f"{type(exc).__name__}: {exc}"))))
        out.finish()
    except BaseException:  # the pipe is gone: the parent stopped reading
        code = 1
    finally:
        os._exit(code)


def _scanned(event: Event, scan: ScanHere) -> Event:
    """A BLOB event scanned here: its matches instead of its bytes (and, when it has
    matches, the text allow comments are looked for in)."""
    _, oid, data, digest, text, lines = event
    matches = scan.scan(data, None, lines)
    return (
        SCANNED,
        oid,
        len(data),
        digest,
        matches,
        (data if text is None else text) if matches else None,
    )
