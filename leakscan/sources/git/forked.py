"""Reading and comparing blobs in a second process while this one scans.

Reading a history's blobs (``git cat-file``, the binary sniff, the changed lines of each
edit: :mod:`.delta`) costs about as much CPU as scanning them. On a machine with a second core,
:class:`Forked` forks a child that does the reading and sends each blob's outcome (an "event",
a small tuple) through a pipe, while this process reads the commits and scans what it has
received. The events are those the in-process reader yields, in the same order, so what is
found, and where, does not depend on the transport. The child runs ahead of the scanner by up
to :data:`AHEAD_BYTES` of events held in its memory (the commits are read meanwhile).

A streamed blob (larger than the in-memory limit) is sent as its header followed by its raw
bytes, which the scanner reads from the pipe through a bounded reader. An error in the child (a
:class:`SourceError` of a damaged repository, or anything else) is sent as the last event and
raised here. Linux only (``fork`` with the detector already built, no re-import); elsewhere,
and on one core, the reading stays in this process.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO, Any

from leakscan.sources.git.catfile import BoundedReader
from leakscan.sources.git.repository import _widen_pipe
from leakscan.sources.interface import SourceError

# event kinds (the first item of an event tuple)
SKIP, BLOB, ARCHIVE, STREAM, READS = 0, 1, 2, 3, 4
_BYTES, _DONE, _ERROR = 7, 8, 9
_PIPE_BYTES = 1 << 20
_COPY = 1 << 20
#: reading moves to a child process from this many planned blobs on (fewer: the fork and the
#: pipe cost more than they save); tests set it to 0 to read every history in a child
FORK_FROM_BLOBS = 400
#: events the child holds while the scanner is busy elsewhere (reading the commits)
AHEAD_BYTES = 64 * 1024 * 1024

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

    def __init__(self, produce: Callable[[], Iterator[Event]], name: str) -> None:
        self._name = name
        rfd, wfd = os.pipe()
        _widen_pipe(rfd)
        sys.stdout.flush()
        sys.stderr.flush()
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns
            os.close(rfd)
            _child(produce, wfd)
        os.close(wfd)
        self._pipe = os.fdopen(rfd, "rb", buffering=_PIPE_BYTES)
        self._finished = False

    def __iter__(self) -> Iterator[Event]:
        pipe = self._pipe
        try:
            while True:
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
    """Pickled events on their way to the pipe, written by a thread so the child reads on
    while the parent is busy; at most ``AHEAD_BYTES`` are held."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._items: deque[bytes | memoryview] = deque()
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()
        self.failed = False
        self._thread = threading.Thread(target=self._write, name="git-events", daemon=True)
        self._thread.start()

    def put(self, data: bytes | memoryview) -> None:
        with self._cond:
            while self._held > AHEAD_BYTES and not self.failed:
                self._cond.wait()
            if self.failed:
                raise BrokenPipeError("the scanner stopped reading")
            self._items.append(data)
            self._held += len(data)
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _write(self) -> None:
        fd = self._fd
        while True:
            with self._cond:
                while not self._items and not self._closed:
                    self._cond.wait()
                if not self._items:
                    return
                batch = list(self._items)
                self._items.clear()
            try:
                _write_all(fd, batch)
            except OSError:
                with self._cond:
                    self.failed = True
                    self._cond.notify_all()
                return
            with self._cond:
                self._held -= sum(len(d) for d in batch)
                self._cond.notify_all()


def _write_all(fd: int, buffers: list[bytes | memoryview]) -> None:
    """All of ``buffers``, in as few system calls as the pipe takes."""
    at = 0
    while at < len(buffers):
        written = os.writev(fd, buffers[at : at + 512])  # IOV_MAX is 1024 on Linux
        while written and written >= len(buffers[at]):
            written -= len(buffers[at])
            at += 1
        if written:  # the rest of a partly written one
            buffers[at] = memoryview(buffers[at])[written:]


def _child(produce: Callable[[], Iterator[Event]], wfd: int) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the scan
        # no collection in the child: it would touch (and so copy) every page of the heap it
        # shares with the parent, and the reading makes no reference cycles
        gc.disable()
        out = _Outbox(wfd)
        dumps = pickle.dumps
        try:
            for event in produce():
                if event[0] == STREAM:
                    reader = event[3]  # a BoundedReader, or a Prefixed over one
                    out.put(dumps(event[:3], protocol=pickle.HIGHEST_PROTOCOL))
                    while chunk := reader.read(_COPY):
                        out.put(chunk)
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
            out.put(dumps((_DONE,)))
        except BrokenPipeError:
            code = 1
        except BaseException as exc:  # sent to the parent as it is
            try:
                out.put(dumps((_ERROR, exc)))
            except Exception:  # an exception that does not pickle
                out.put(dumps((_ERROR, SourceError(f"{type(exc).__name__}: {exc}"))))
        out.finish()
    except BaseException:  # the pipe is gone: the parent stopped reading
        code = 1
    finally:
        os._exit(code)
