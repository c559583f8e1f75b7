"""What a source's bytes become, decided the same way for every source (a source only
enumerates and names): binary or text (a text file's name wins), an archive opened (zip, jar,
whl, ...; tar, plain or gzip/xz/bzip2/zstd; a compressed single file), bytes in memory or a
stream; cut off by the limits of ``SourceOptions`` with one wording of each skip reason.

Nothing is extracted to disk; a compressed tar is read one member at a time. Past a limit, or
at corrupt data, an archive ends with a skip and the members read so far are kept. A member's
path is ``outer.jar!inner/path``.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from leakscan.locations import location_of
from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.compression import inflate_gzip, is_corrupt_stream, reader, sniff
from leakscan.sources.interface import SourceOptions

SNIFF_BYTES = 8192
_PIECE = 16 << 20  # largest single read of an archive into memory
_TEXT_BYTES = bytes([9, 10, 12, 13, 27, *range(32, 256)])  # deleted by translate: text

#: names of text files (configuration, manifests, keys, scripts) scanned even when their
#: first block looks binary (a NUL byte in front of a manifest must not hide its secrets)
TEXT_SUFFIXES = (
    ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env",
    ".tf", ".tfvars", ".txt", ".xml", ".sh", ".ps1", ".py", ".js", ".ts", ".pem", ".key",
    ".npmrc", ".pypirc", ".netrc", ".htpasswd", ".sql",
)  # fmt: skip
ZIP_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".apk", ".aar", ".nupkg", ".egg")
TAR_SUFFIXES = (
    ".tar", ".tar.gz", ".tgz", ".crate", ".gem",
    ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst",
)  # fmt: skip
_ARCHIVE_SUFFIXES = ZIP_SUFFIXES + TAR_SUFFIXES
_BLOCK = 512


# --- skip reasons: one wording each, whatever the source --------------------------------------


def too_large(limit: int) -> str:
    return f"larger than the file size limit ({limit} bytes)"


def archive_too_large(limit: int) -> str:
    return f"archive larger than the archive size limit ({limit} bytes)"


def too_deep(depth: int) -> str:
    return f"nested archive deeper than {depth} levels"


def inflates_beyond(limit: int, what: str = "the archive size limit") -> str:
    return f"inflates beyond {limit} bytes ({what})"


def inflates_over(ratio: int) -> str:
    return f"inflates more than {ratio}:1 (decompression bomb)"


def corrupt(what: str, exc: BaseException | str) -> str:  # archive, zip archive, gzip stream
    return f"corrupt {what}: {exc}"


def unreadable(why: object) -> str:
    return f"cannot read: {why}"


# --- what the bytes are -----------------------------------------------------------------------


def looks_binary(head: bytes) -> bool:
    """NUL bytes (outside UTF-16/32 text) or mostly non-text bytes in the first block."""
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        utf16 = odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even)
        return not utf16
    control = len(head.translate(None, _TEXT_BYTES))
    return control / len(head) > 0.15


def is_text_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1].lower()
    return base.endswith(TEXT_SUFFIXES) or base.startswith(".env") or base == "dockerfile"


def is_archive(head: bytes, *names: str) -> bool:
    """An archive (or compressed file) by any of its names or by its first bytes."""
    if any(n.lower().endswith(_ARCHIVE_SUFFIXES) for n in names):
        return True
    return head.startswith(b"PK\x03\x04") or sniff(head) is not None or head[257:262] == b"ustar"


def skip_as_binary(head: bytes, options: SourceOptions, *names: str) -> bool:
    """Not scanned: it looks binary, binaries are not asked for, and no name says text."""
    return (
        not options.scan_binary and looks_binary(head) and not any(is_text_name(n) for n in names)
    )


ARCHIVE, BINARY, IN_MEMORY, STREAM = "archive", "binary", "in-memory", "stream"


def route(head: bytes, size: int, options: SourceOptions, *names: str) -> str:
    """What one content becomes, by its first block (``SNIFF_BYTES``), size and names: an
    archive to open, a binary left out, bytes held in memory, or a stream."""
    if is_archive(head, *names):
        return ARCHIVE
    if skip_as_binary(head, options, *names):
        return BINARY
    return IN_MEMORY if size <= options.in_memory_bytes else STREAM


# --- the blobs of one content -----------------------------------------------------------------


def file_blobs(
    handle: IO[bytes],
    size: int,
    name: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int = 0,
) -> Iterator[Blob | Skip]:
    """The blobs of one file's content (``size`` bytes announced): itself, in memory or as a
    stream, or the members of the archive it is."""
    head = handle.read(SNIFF_BYTES)
    how = route(head, size, options, name)
    if how == ARCHIVE:
        if depth >= options.archive_depth:
            yield Skip(name, too_deep(options.archive_depth))
            return
        pieces = read_upto(handle, options.archive_bytes + 1 - len(head), size - len(head))
        data = b"".join([head, *pieces])
        if len(data) > options.archive_bytes:
            yield Skip(name, archive_too_large(options.archive_bytes))
            return
        yield from archive_blobs(data, name, provenance, options, depth + 1)
    elif how == IN_MEMORY:
        yield Blob(provenance, data=head + handle.read())
    elif how == STREAM:
        yield Blob(provenance, stream=cast(IO[bytes], Prefixed(head, handle)), size=size)


def read_upto(handle: IO[bytes], limit: int, expected: int) -> list[bytes]:
    """Up to ``limit`` bytes, in pieces: ``read(n)`` reserves ``n`` bytes up front, so a
    10 KB archive must not ask for the whole archive size limit (512 MiB) in one read.
    ``expected`` (the size announced, if any) is asked for first: usually the only read."""
    pieces = []
    want = min(max(expected, 0) + 1, _PIECE)  # a file's own size: usually one read
    while limit > 0:
        piece = handle.read(min(limit, want))
        if not piece:
            break
        pieces.append(piece)
        limit -= len(piece)
        want = _PIECE
    return pieces


# --- streams: bytes already read, then the rest; a stream watched as another reads it ----------


class Prefixed:
    """``head`` (bytes already read: a sniffed block, a spooled part) then the rest of ``rest``.
    ``owns``: closing it closes ``rest``."""

    def __init__(self, head: bytes, rest: Any, owns: bool = False) -> None:
        self._head = head
        self._rest = rest
        self._owns = owns

    def read(self, n: int | None = -1) -> bytes:
        if not self._head:
            data: bytes = self._rest.read(n)
            return data
        if n is None or n < 0:
            out: bytes = self._head + self._rest.read()
            self._head = b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        if len(out) < n:
            out += self._rest.read(n - len(out))
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._owns:
            self._rest.close()


@dataclass(slots=True)
class Tap:
    """A stream read by someone else, watched on the way: the bytes counted, hashed unless
    ``hashed`` is false (``digest()``: sha256 of what was read), ``ended`` once read to its end.

    An exception of a type in ``catch`` is turned into ``convert(exc)`` (when given); with
    ``keep`` it ends the stream and is kept in ``error`` for the owner to deal with, else it
    is raised to the reader."""

    raw: Any
    catch: tuple[type[BaseException], ...] = ()
    convert: Callable[[BaseException], BaseException] | None = None
    keep: bool = False
    hashed: bool = True
    hash: Any = field(default_factory=hashlib.sha256, init=False)
    read_bytes: int = field(default=0, init=False)
    ended: bool = field(default=False, init=False)
    error: BaseException | None = field(default=None, init=False)

    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"

    def read(self, n: int | None = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            data: bytes = self.raw.read(n)
        except self.catch as exc:
            error = exc if self.convert is None else self.convert(exc)
            if not self.keep:
                raise error from None
            self.error = error
            return b""
        if data:
            if self.hashed:
                self.hash.update(data)
            self.read_bytes += len(data)
        else:
            self.ended = True
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


class _Inflating:
    """A decompressing stream that never raises: past ``limit`` bytes, or on corrupt data,
    it ends and says why in ``problem`` (the archive's members read so far are kept)."""

    def __init__(self, inner: IO[bytes], limit: int, how: str, over: str) -> None:
        self._inner = inner
        self.limit = limit
        self.how = how
        self.over = over  # the reason when it inflates beyond the limit
        self.out = 0
        self.problem: str | None = None

    def read(self, n: int | None = -1) -> bytes:
        if self.problem is not None:
            return b""
        want = self.limit + 1 - self.out if n is None or n < 0 else min(n, self.limit + 1)
        try:
            chunk = self._inner.read(want)
        except Exception as exc:
            if not is_corrupt_stream(exc):
                raise
            self.problem = corrupt(f"{self.how} stream", exc)
            return b""
        self.out += len(chunk)
        if self.out > self.limit:
            self.problem = self.over
            return b""
        return chunk

    def readable(self) -> bool:
        return True


# --- archives ---------------------------------------------------------------------------------


def _member(provenance: Provenance, outer: str, inner: str) -> tuple[str, Provenance]:
    path = f"{outer}!{inner}"
    fields = dict(provenance.fields)
    fields["path"] = path
    return path, Provenance(provenance.kind, fields, provenance.line, provenance.vendor)


def archive_blobs(
    data: bytes, name: str, provenance: Provenance, options: SourceOptions, depth: int
) -> Iterator[Blob | Skip]:
    """The blobs of an archive's members (``depth``: its own nesting, counted from 1)."""
    outer = str(location_of(provenance).path or name)
    if data.startswith(b"PK"):
        yield from _zip(data, outer, provenance, options, depth)
        return
    how = sniff(data)
    by_ratio = max(len(data), 1) * options.max_ratio
    whole = None
    if how == "gzip":
        # most .gz files: inflated in one call (no file objects) when that is simple, then
        # read below as any content is (a tar in it too); else the stream inflates it
        whole = inflate_gzip(data, min(options.archive_bytes, by_ratio, options.in_memory_bytes))
    if how is None or whole is not None:  # the bytes as they are, or inflated already
        plain = data if whole is None else whole
        stream = _Inflating(io.BytesIO(plain), len(plain) + 1, how or "none", "")
    else:
        over = (
            inflates_over(options.max_ratio)
            if by_ratio < options.archive_bytes
            else inflates_beyond(options.archive_bytes)
        )
        try:
            inflating = reader(how, io.BytesIO(data))
        except (OSError, ValueError, EOFError, lzma.LZMAError) as exc:
            yield Skip(outer, corrupt("archive", exc))
            return
        stream = _Inflating(inflating, min(options.archive_bytes, by_ratio), how, over)
    try:
        head = stream.read(_BLOCK)
        body = cast(IO[bytes], Prefixed(head, stream))
        if head[257:262] == b"ustar" or name.lower().endswith(TAR_SUFFIXES):
            yield from _tar(body, outer, provenance, options, depth)
        elif how is not None and stream.problem is None:
            # a compressed single file (not a tar): its content in memory when it inflates
            # to no more than the in-memory limit (its size is known only once inflated: the
            # limit above is the worst case), else as a stream
            inner = _strip_suffix(name)
            _, prov = _member(provenance, outer, inner)
            # inflated in one call already: all of it, within the limit
            start = whole if whole is not None else _unless_binary(body, inner, options)
            if start is None:  # binary: dropped on its first block, the rest not inflated
                pass
            elif len(start) <= options.in_memory_bytes and stream.problem is None:
                yield from file_blobs(io.BytesIO(start), len(start), inner, prov, options, depth)
            else:
                rest = cast(IO[bytes], Prefixed(start, stream))
                yield from file_blobs(rest, stream.limit, inner, prov, options, depth)
    except (tarfile.TarError, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        if stream.problem is None:
            yield Skip(outer, corrupt("archive", exc))
    if stream.problem is not None:
        yield Skip(outer, stream.problem)


def _unless_binary(body: IO[bytes], name: str, options: SourceOptions) -> bytes | None:
    """A compressed file's content, up to the in-memory limit and a byte; ``None`` when its
    first block is binary (``file_blobs`` would drop it there): the rest is not inflated
    (a bzip2 image of 1.6 MB took ~0.3 s)."""
    first = b"".join(read_upto(body, SNIFF_BYTES, SNIFF_BYTES - 1))
    if route(first, 0, options, name) == BINARY:
        return None
    return b"".join([first, *read_upto(body, options.in_memory_bytes + 1 - len(first), 0)])


def _strip_suffix(name: str) -> str:
    """The inner file's name: ``app.json.xz`` → ``app.json`` (the base name only)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    lower = name.lower()
    for suffix in (".gz", ".xz", ".bz2", ".zst"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)


def _zip(
    data: bytes, outer: str, provenance: Provenance, options: SourceOptions, depth: int
) -> Iterator[Blob | Skip]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Skip(outer, corrupt("zip archive", exc))
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
            if info.file_size > budget:
                yield Skip(path, inflates_beyond(options.archive_bytes))
                continue
            if info.file_size / max(info.compress_size, 1) > options.max_ratio:
                yield Skip(path, inflates_over(options.max_ratio))
                continue
            try:
                handle = archive.open(info)
            except (*_ZIP_ERRORS, NotImplementedError) as exc:
                yield Skip(path, unreadable(exc))
                continue
            # read as a stream (a large member is not held in memory); a read error ends it
            member = Tap(handle, _ZIP_ERRORS, keep=True, hashed=False)
            with handle:
                yield from file_blobs(
                    cast(IO[bytes], member), info.file_size, info.filename, prov, options, depth
                )
            budget -= member.read_bytes
            if member.error is not None:
                yield Skip(path, unreadable(str(member.error) or type(member.error).__name__))


def _tar(
    stream: IO[bytes], outer: str, provenance: Provenance, options: SourceOptions, depth: int
) -> Iterator[Blob | Skip]:
    """The members of a tar read as a stream: one member in memory at most (a large one
    handed on as a stream), never the whole inflated archive."""
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for info in archive:
            if not info.isreg():
                continue
            _, prov = _member(provenance, outer, info.name)
            handle = archive.extractfile(info)
            if handle is None:
                continue
            yield from file_blobs(handle, info.size, info.name, prov, options, depth)
