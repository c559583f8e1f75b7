"""Object contents in bulk through one ``git cat-file --batch`` process.

Requests are written by a helper thread while the caller reads the answers, so a long list
of ids never deadlocks on full pipes. Each answer is ``<id> <type> <size>\\n<bytes>\\n`` or
``<id> missing``; the bytes of a large object can be read as a bounded stream (the caller
reads it, then asks for the next object; what it did not read is drained).

Each list of ids gets its own process, whose input is closed after the last id: a damaged
loose object whose header declares more bytes than it holds is printed short by git, and
the reader then meets the end of the output (a SourceError) instead of waiting forever for
bytes git will never send while git waits for another id.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from leakscan.sources.git.repository import Repository
from leakscan.sources.interface import SourceError

log = logging.getLogger(__name__)

_READ_AT_ONCE = 1 << 20  # objects smaller than this are read in one call


@dataclass(slots=True)
class CatObject:
    """One answer: the object's id, type (None when missing) and size."""

    oid: str
    type: str | None
    size: int
    reader: BoundedReader | None = None
    data: bytes | None = None  # the whole object, when it was small enough to read at once

    def read_all(self) -> bytes:
        if self.data is not None:
            return self.data
        return self.reader.read() if self.reader is not None else b""


class BoundedReader:
    """Exactly ``size`` bytes of the process output, read in pieces or at once."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self.remaining = size

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        want = self.remaining if n < 0 or n > self.remaining else n
        chunks = []
        while want > 0:
            chunk = self._stream.read(want)
            if not chunk:
                raise SourceError("git cat-file ended in the middle of an object")
            chunks.append(chunk)
            want -= len(chunk)
            self.remaining -= len(chunk)
        return b"".join(chunks)

    def drain(self) -> None:
        while self.remaining > 0:
            self.read(min(self.remaining, 1 << 20))


class CatFile:
    """``git cat-file --batch`` processes, one per :meth:`objects` call; a context manager."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._proc: subprocess.Popen[bytes] | None = None
        self.requests = 0

    @property
    def repo(self) -> Repository:
        return self._repo

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # never leave the process behind
            proc.kill()
            proc.wait()

    def objects(self, oids: Iterable[str]) -> Iterator[CatObject]:
        """Answers in request order. Each object's reader must be used before the next."""
        ids = list(oids)
        if not ids:
            return
        self.requests += len(ids)
        self.close()
        proc = self._proc = self._repo.popen(["cat-file", "--batch"], stdin=True)
        stdin, stdout = proc.stdin, proc.stdout
        assert stdin is not None and stdout is not None
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                for start in range(0, len(ids), 1024):
                    stdin.write(("\n".join(ids[start : start + 1024]) + "\n").encode())
                stdin.flush()
            except (OSError, ValueError) as exc:  # the reader gave up; nothing to do
                failure.append(exc)
            finally:
                try:
                    stdin.close()  # git ends after the last answer: a short one meets EOF
                except (OSError, ValueError):
                    pass

        writer = threading.Thread(target=feed, name="git-cat-file-feed", daemon=True)
        writer.start()
        finished = False
        try:
            for oid in ids:
                header = stdout.readline()
                if not header:
                    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                    raise SourceError(
                        f"{self._repo.name}: git cat-file stopped: {err.strip() or 'no output'}"
                    )
                parts = header.decode("ascii", "replace").split()
                if len(parts) != 3:  # "<id> missing" (or anything unexpected)
                    yield CatObject(oid, None, 0)
                    continue
                if not parts[2].isdigit():
                    raise SourceError(f"{self._repo.name}: git cat-file output out of step")
                size = int(parts[2])
                if size < _READ_AT_ONCE:  # the usual source file: one read, no stream
                    data = stdout.read(size + 1)
                    if len(data) != size + 1 or data[-1] != 0x0A:
                        raise SourceError(f"{self._repo.name}: git cat-file output out of step")
                    # read whole: ``data`` holds it, its reader has nothing left
                    reader = BoundedReader(stdout, 0)
                    yield CatObject(parts[0], parts[1], size, reader, data[:-1])
                    continue
                reader = BoundedReader(stdout, size)
                yield CatObject(parts[0], parts[1], size, reader)
                reader.drain()
                if stdout.read(1) != b"\n":
                    raise SourceError(f"{self._repo.name}: git cat-file output out of step")
            finished = True
        finally:
            if not finished:  # abandoned or failed: the writer may block on a full pipe
                proc.kill()
            writer.join()
