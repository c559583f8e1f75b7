"""One layer blob read as a stream: decompress (gzip, zstd, xz, bzip2 or none, by magic bytes),
walk tar.

The walk is :mod:`.tarstream`'s, not tarfile's: tarfile's per-header Python work was a third
of an image scan.

Members are handed out one at a time (a regular file's content is readable until the next
member is asked for); nothing is written to disk and links are never followed. Member names
that climb out of the layer (``../``) are reported as skips. A decompression bomb is cut off
by the total uncompressed size and by the ratio of uncompressed to compressed bytes.
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
from collections.abc import Generator
from dataclasses import dataclass
from typing import IO, Any, cast

from leakscan.model import Skip
from leakscan.sources.compression import is_corrupt_stream, reader, sniff
from leakscan.sources.image import tarstream
from leakscan.sources.image.interface import ImageError
from leakscan.sources.image.readahead import ReadAhead
from leakscan.sources.image.tarstream import Kind, Member, TarError, iter_members

log = logging.getLogger(__name__)


#: a layer that inflates to more than this is a bomb (real layers are far smaller)
MAX_LAYER_BYTES = 64 * 1024**3
#: ratio checks start above this many uncompressed bytes (tiny layers compress extremely)
RATIO_FLOOR = 64 * 1024**2
#: a compressed layer is inflated this much at a time, its pieces joined: a read that meets
#: corrupt bytes loses what it inflated, so the members before them are still handed out
#: (64 KiB reads handed on one by one cost the 973 MB image ~0.7 s of CPU in queue hand-offs
#: and short tar reads)
STEP = 1 << 16

FILE, DIR, SYMLINK, HARDLINK, WHITEOUT, OPAQUE, OTHER = (
    "file",
    "dir",
    "symlink",
    "hardlink",
    "whiteout",
    "opaque",
    "other",
)


class BombError(ImageError):
    """A layer inflates beyond the size or ratio limit."""


@dataclass(slots=True)
class Entry:
    """One tar member of a layer. ``path`` is normalised (no leading ``./`` or ``/``).

    For a whiteout, ``path`` is the path it deletes; for an opaque marker, the directory.
    ``content`` is readable for regular files until the next entry is requested.
    """

    path: str
    kind: str
    size: int
    content: IO[bytes] | None = None


class _Counting:
    """Counts bytes read from a raw stream (for the compression ratio)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0
        self.pending = b""  # bytes peeked at (the magic), handed out again first

    def read(self, n: int = -1) -> bytes:
        if self.pending:
            if n < 0 or n > len(self.pending):
                out, self.pending = self.pending, b""
                return out
            out, self.pending = self.pending[:n], self.pending[n:]
            return out
        data = self.raw.read(n)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:  # isal's GzipFile reads with readinto
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Inflated:
    """The decompressed stream with bomb limits; ``drain`` reads the raw blob to its end."""

    def __init__(
        self,
        raw: IO[bytes],
        where: str,
        max_ratio: int,
        max_bytes: int = MAX_LAYER_BYTES,
        hasher: Any = None,
    ) -> None:
        self._raw = _Counting(raw)
        self.hasher = hasher  # of the uncompressed bytes (a layer's diff_id), when asked
        self.where = where
        self.max_ratio = max_ratio
        self.max_bytes = max_bytes
        self.out = 0
        self._error: ImageError | None = None  # met by a read, raised by the next one
        head = self._peek()
        self.compression = sniff(head) or "none"
        self._inner: IO[bytes] = (  # docker load accepts xz and bzip2 layers as well
            self._raw if self.compression == "none" else reader(self.compression, self._raw)  # type: ignore[assignment]
        )

    def _peek(self) -> bytes:
        head = self._raw.read(10)
        self._raw.pending = head
        return head

    def read(self, n: int = -1) -> bytes:
        data = self._inflate(n)
        self.out += len(data)
        if self.hasher is not None:
            self.hasher.update(data)
        if self.out > self.max_bytes:
            raise BombError(
                f"{self.where}: layer inflates beyond {self.max_bytes} bytes (--max-layer-size)"
            )
        if (
            self.compression != "none"
            and self.out > RATIO_FLOOR
            and self.out > self.max_ratio * max(self._raw.count, 1)
        ):
            raise BombError(
                f"{self.where}: layer inflates more than {self.max_ratio}:1 (decompression bomb)"
            )
        return data

    def _inflate(self, n: int) -> bytes:
        """Up to ``n`` bytes, inflated :data:`STEP` bytes at a time: an error met after the
        first step is raised by the next read, so what was inflated before the corrupt bytes
        is handed out (a read that fails loses what it inflated)."""
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if self.compression == "none" or n is None or n < 0 or n <= STEP:
            return self._step(n)
        parts: list[bytes] = []
        got = 0
        while got < n:
            try:
                data = self._step(min(STEP, n - got))
            except ImageError as exc:
                if not parts:
                    raise
                self._error = exc
                break
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _step(self, n: int) -> bytes:
        try:
            return self._inner.read(n)
        except Exception as exc:
            if isinstance(exc, ImageError) or not is_corrupt_stream(exc):
                raise
            raise ImageError(f"{self.where}: corrupt {self.compression} stream: {exc}") from None

    def readable(self) -> bool:
        return True

    def drain(self) -> None:
        """Read what is left of the raw blob (so its digest gets checked)."""
        while self._raw.read(1 << 20):
            pass


def safe_path(name: str) -> str | None:
    """The member name normalised, or None when it climbs out of the layer."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    return "/".join(parts)  # the parts hold no "/": posixpath.join would add nothing


def iter_layer(
    raw: IO[bytes],
    where: str,
    max_ratio: int = 200,
    max_bytes: int = MAX_LAYER_BYTES,
    hasher: Any = None,
) -> Generator[Entry | Skip, None, None]:
    """The entries of a layer blob, in tar order; ImageError when it cannot be read.

    A member that cannot be scanned is a :class:`Skip` whose ``where`` is its member name.
    An error in the first member means the blob is not a tar at all; later, that the layer
    is corrupt or truncated. An empty blob is an empty layer. ``hasher`` (a hashlib object)
    is fed every uncompressed byte, the tail after the tar's end included, once the walk
    ends without an error."""
    stream = _Inflated(raw, where, max_ratio, max_bytes, hasher)
    # read, checked and inflated by a thread (the GIL is released meanwhile) while the
    # caller walks and scans: stopped before the generator ends, however it ends
    inflating: ReadAhead | None = None
    if hasher is not None and stream.compression != "none":
        # a compressed layer's bytes are hashed by a second thread: inflating and hashing
        # in one kept the walk waiting for it (~1.3 s on the 973 MB image from a registry)
        stream.hasher = None
        inflating = ReadAhead(cast(IO[bytes], stream), name="leakscan-layer-inflate")
        ahead = ReadAhead(cast(IO[bytes], _Hashing(inflating, hasher)))
    else:
        ahead = ReadAhead(cast(IO[bytes], stream))
    started = False
    try:
        for member in iter_members(ahead):
            started = True
            entry = _entry(member, where)
            if entry is not None:
                yield entry
        started = True  # an empty tar is a layer; what follows is the blob's tail
        # read to its end: the uncompressed tail (padding) counts in the diff_id, and the
        # thread's last read is where a blob's digest is checked
        while ahead.read(1 << 20):
            pass
        stream.drain()
    # tarfile's errors too: the blob may be read from a member of a docker save archive
    except (TarError, tarfile.TarError, EOFError) as exc:
        if not started:
            raise ImageError(f"{where}: not a tar layer: {exc}") from None
        raise ImageError(f"{where}: corrupt or truncated layer: {exc}") from None
    finally:
        ahead.close()
        if inflating is not None:
            inflating.close()


class _Hashing:
    """A stream whose bytes are fed to ``hasher`` as they are read."""

    __slots__ = ("_hasher", "_stream")

    def __init__(self, stream: ReadAhead, hasher: Any) -> None:
        self._stream = stream
        self._hasher = hasher

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._hasher.update(data)
        return data


class _Content:
    """A regular member's bytes; a tar error while reading them is the layer's ImageError."""

    __slots__ = ("_content", "_where")

    def __init__(self, content: tarstream.Content, where: str) -> None:
        self._content = content
        self._where = where

    def read(self, n: int = -1) -> bytes:
        try:
            return self._content.read(n)
        except TarError as exc:
            raise ImageError(f"{self._where}: corrupt or truncated layer: {exc}") from None

    def readable(self) -> bool:
        return True


_KINDS = {
    Kind.DIR: DIR,
    Kind.SYMLINK: SYMLINK,
    Kind.HARDLINK: HARDLINK,
}


def _entry(member: Member, where: str) -> Entry | Skip | None:
    path = safe_path(member.name)
    if path is None:
        return Skip(member.name, "member name climbs out of the layer (../)")
    if path == "":
        return None
    head, base = posixpath.split(path)
    if base == ".wh..wh..opq":
        return Entry(head, OPAQUE, 0)
    if base.startswith(".wh."):
        return Entry(posixpath.join(head, base[4:]), WHITEOUT, 0)
    if member.content is not None:
        return Entry(path, FILE, member.size, cast(IO[bytes], _Content(member.content, where)))
    return Entry(path, _KINDS.get(member.kind, OTHER), 0)
