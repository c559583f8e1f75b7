"""A stream read ahead by a thread: a layer's bytes are read, checked and inflated on the
other core while the main thread walks the tar and scans what was read.

Reading a layer costs the main thread little of its own: ``os.pread``, sha256 (the blob
digest, the diff_id) and zlib release the GIL on large buffers, so a thread that reads a
layer in 4 MiB pieces does that work beside the scan (on the 973 MB bench image: ~1 s of
hashing and reading off the main thread). Memory stays bounded: at most ``depth`` pieces
(32 MiB) wait to be read. An error met by the thread is raised to the reader where it was
met, after the bytes before it.
"""

from __future__ import annotations

import io
import queue
import threading
from typing import IO, Any

#: bytes the thread asks the stream for at a time: it takes the GIL back after each read and
#: each hash of a piece (waiting up to the switch interval while the main thread runs
#: Python), so pieces are large
PIECE = 4 << 20
#: pieces read ahead at most (32 MiB): a run of binary files (dropped on their first block) is
#: walked faster than it is read and hashed; what was read ahead during the text before it
#: absorbs that (8 MiB left the main thread waiting for ~0.7 s on the 973 MB image)
DEPTH = 8


class ReadAhead:
    """``stream`` read by a thread; ``read(n)`` hands its bytes on (short reads possible,
    ``b""`` only at its end). ``close()`` stops the thread; the stream itself is the caller's:
    it is quiet (not being read) once ``close()`` returns."""

    __slots__ = ("_buf", "_ended", "_pos", "_queue", "_stop", "_stream", "_thread")

    def __init__(
        self,
        stream: IO[bytes],
        piece: int = PIECE,
        depth: int = DEPTH,
        name: str = "leakscan-layer-reader",
    ) -> None:
        self._stream = stream
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._stop = False
        self._buf = b""
        self._pos = 0
        self._ended = False
        self._thread = threading.Thread(target=self._fill, args=(piece,), name=name, daemon=True)
        self._thread.start()

    def _fill(self, piece: int) -> None:
        read, put = self._stream.read, self._queue.put
        try:
            while not self._stop:
                data = read(piece)
                put(data)
                if not data:
                    return
        except BaseException as exc:  # raised to the reader in its place
            if not self._stop:
                put(exc)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while chunk := self.read(PIECE):
                parts.append(chunk)
            return b"".join(parts)
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            if self._ended or n == 0:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._ended = True
                self._join()
                raise item
            if not item:
                self._ended = True
                self._join()
                return b""
            buf, pos = self._buf, self._pos = item, 0
        end = pos + n
        if pos == 0 and end >= len(buf):
            self._buf = b""
            return buf
        self._pos = end
        return buf[pos:end]

    def readable(self) -> bool:
        return True

    def _join(self) -> None:
        self._thread.join()

    def close(self) -> None:
        """Stop reading ahead (what was read and not handed on is dropped)."""
        self._stop = True
        self._buf, self._pos = b"", 0
        while self._thread.is_alive():
            try:  # unblock a thread waiting to put a piece
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(0.01)
        self._ended = True


class Prefetched(io.RawIOBase):
    """``stream`` read ahead by a thread of its own, and owned: closing this stops the thread,
    then closes ``stream``. A registry blob is downloaded (and its digest hashed) this way
    while the layer's own thread inflates what came before."""

    def __init__(self, stream: IO[bytes], piece: int, depth: int, name: str) -> None:
        super().__init__()
        self._stream = stream
        self._ahead = ReadAhead(stream, piece, depth, name)

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        return self._ahead.read(-1 if n is None else n)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._ahead.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._ahead.close()
            self._stream.close()
        super().close()
