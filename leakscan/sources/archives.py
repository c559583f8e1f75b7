"""Archives nested in a scanned tree or layer: zip, jar, war, ear, whl, apk, and tar,
plain or compressed with gzip, xz, bzip2 or zstd (``.tgz``, ``.tar.xz``, ``.tar.bz2``, ...).

Nothing is extracted to disk. A compressed tar is read as a stream, one member at a time
(a large member is handed on as a stream): memory stays bounded however far it inflates.
The bytes inflated are bounded by the archive size limit and the decompression ratio; past
them, or at corrupt data, the archive ends with a skip and its members read so far are kept.
A member's path is ``outer.jar!inner/path``.
"""

from __future__ import annotations

import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, cast

from leakscan.locations import location_of
from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.compression import is_corrupt_stream, reader, sniff
from leakscan.sources.interface import SourceOptions

ZIP_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".apk", ".aar", ".nupkg", ".egg")
TAR_SUFFIXES = (
    ".tar", ".tar.gz", ".tgz", ".crate", ".gem",
    ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst",
)  # fmt: skip
BLOCK = 512

Recurse = Callable[[IO[bytes], int, str, Provenance, SourceOptions, int], Iterator[Blob | Skip]]


def is_archive_name(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(ZIP_SUFFIXES) or lower.endswith(TAR_SUFFIXES)


def _member(provenance: Provenance, outer: str, inner: str) -> tuple[str, Provenance]:
    path = f"{outer}!{inner}"
    fields = dict(provenance.fields)
    fields["path"] = path
    return path, Provenance(provenance.kind, fields, provenance.line, provenance.vendor)


def iter_archive(
    data: bytes,
    name: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int,
    recurse: Recurse,
) -> Iterator[Blob | Skip]:
    outer = str(location_of(provenance).path or name)
    if data.startswith(b"PK"):
        yield from _zip(data, outer, provenance, options, depth, recurse)
        return
    how = sniff(data)
    if how is None:
        stream = _Inflating(io.BytesIO(data), len(data) + 1, "none")
    else:
        limit = min(options.archive_bytes, max(len(data), 1) * options.max_ratio)
        try:
            stream = _Inflating(reader(how, io.BytesIO(data)), limit, how)
        except (OSError, ValueError, EOFError, lzma.LZMAError) as exc:
            yield Skip(outer, f"corrupt archive: {exc}")
            return
    try:
        head = stream.read(BLOCK)
        if head[257:262] != b"ustar" and not name.lower().endswith(TAR_SUFFIXES):
            # a compressed single file (not a tar): scan its content, as a stream
            if how is not None and stream.problem is None:
                inner = _strip_suffix(name)
                _, prov = _member(provenance, outer, inner)
                body = cast(IO[bytes], _Chain(head, stream))
                yield from recurse(body, stream.limit, inner, prov, options, depth)
        else:
            yield from _tar(_Chain(head, stream), outer, provenance, options, depth, recurse)
    except (tarfile.TarError, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        if stream.problem is None:
            yield Skip(outer, f"corrupt archive: {exc}")
    if stream.problem is not None:
        yield Skip(outer, stream.problem)


def _strip_suffix(name: str) -> str:
    """The inner file's name: ``app.json.xz`` → ``app.json`` (the base name only)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    lower = name.lower()
    for suffix in (".gz", ".xz", ".bz2", ".zst"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


class _Inflating:
    """A decompressing stream that never raises: past ``limit`` bytes, or on corrupt data,
    it ends and says why in ``problem`` (the archive's members read so far are kept)."""

    def __init__(self, inner: IO[bytes], limit: int, how: str) -> None:
        self._inner = inner
        self.limit = limit
        self.how = how
        self.out = 0
        self.problem: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.problem is not None:
            return b""
        want = self.limit + 1 - self.out if n is None or n < 0 else min(n, self.limit + 1)
        try:
            chunk = self._inner.read(want)
        except Exception as exc:
            if not is_corrupt_stream(exc):
                raise
            self.problem = f"corrupt {self.how} stream: {exc}"
            return b""
        self.out += len(chunk)
        if self.out > self.limit:
            self.problem = "compressed archive exceeds the size or ratio limit"
            return b""
        return chunk

    def readable(self) -> bool:
        return True


class _Quiet:
    """A member stream that never raises and never gives more than ``size`` bytes: a read
    error ends it, kept in ``problem``."""

    def __init__(self, inner: IO[bytes], size: int) -> None:
        self._inner = inner
        self._left = size
        self.read_bytes = 0
        self.problem: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.problem is not None or self._left <= 0:
            return b""
        want = self._left if n is None or n < 0 else min(n, self._left)
        try:
            chunk = self._inner.read(want)
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ValueError,
            zlib.error,
            lzma.LZMAError,
        ) as exc:
            self.problem = str(exc) or type(exc).__name__
            return b""
        self._left -= len(chunk)
        self.read_bytes += len(chunk)
        return chunk

    def readable(self) -> bool:
        return True


class _Chain:
    """``head`` then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: _Inflating) -> None:
        self._head = head
        self._tail = tail

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._tail.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._tail.read(n - len(out))
            return out
        return self._tail.read(n)

    def readable(self) -> bool:
        return True


def _zip(
    data: bytes,
    outer: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int,
    recurse: Recurse,
) -> Iterator[Blob | Skip]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Skip(outer, f"corrupt zip archive: {exc}")
        return
    budget = options.archive_bytes
    with archive:
        for info in archive.infolist():
            if not info.filename:  # ZipInfo.is_dir() raises IndexError on an empty name
                yield Skip(outer, "zip member with an empty name; not read")
                continue
            if info.is_dir():
                continue
            path, prov = _member(provenance, outer, info.filename)
            if info.flag_bits & 0x1:  # zipfile.open raises RuntimeError: password required
                yield Skip(path, "encrypted zip member; not read")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > budget or ratio > options.max_ratio:
                yield Skip(path, "member exceeds the archive size or decompression ratio limit")
                continue
            try:
                handle = archive.open(info)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                yield Skip(path, f"cannot read zip member: {exc}")
                continue
            # read as a stream (a large member is not held in memory); a read error ends it
            member = _Quiet(handle, info.file_size)
            with handle:
                yield from recurse(
                    cast(IO[bytes], member), info.file_size, info.filename, prov, options, depth
                )
            budget -= member.read_bytes
            if member.problem is not None:
                yield Skip(path, f"cannot read zip member: {member.problem}")


def _tar(
    stream: _Chain,
    outer: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int,
    recurse: Recurse,
) -> Iterator[Blob | Skip]:
    """The members of a tar read as a stream: one member in memory at most (a large one
    handed on as a stream), never the whole inflated archive."""
    with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|") as archive:
        for info in archive:
            if not info.isreg():
                continue
            _, prov = _member(provenance, outer, info.name)
            handle = archive.extractfile(info)
            if handle is None:
                continue
            yield from recurse(handle, info.size, info.name, prov, options, depth)
