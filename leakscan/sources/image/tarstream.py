"""A strict, streaming tar reader: a byte stream in, tar members out.

Why not :mod:`tarfile`: in stream mode it parses every header field in Python (mode, uid,
mtime, uname, ...), copies data through its own 10 KB record buffer and parses PAX records
with regular expressions. On a PAX-format image (two headers a file) that was 20-35% of a
whole scan. This reader decodes only what a scanner needs (name, type, size, link target),
reads ahead in 4 MB chunks, skips unread data in 4 MB reads, and still verifies every
header checksum.

It is stricter than tarfile, which treats a bad or cut-off header after the first member as
a quiet end of the archive: here a bad checksum, a malformed PAX record, an absurd size or
an archive that ends inside a header or inside data is a :class:`TarError`. An archive that
ends cleanly between members, with or without the end-of-archive zero blocks, is complete;
an empty stream is an archive with no members.

Supported: ustar/posix (``prefix`` + ``name``), old v7 headers (a ``'\\0'`` member whose
name ends in ``/`` is a directory), GNU long names and link targets (``L``/``K``), PAX
extended headers (``x``, and Solaris ``X``: ``path``, ``linkpath``, ``size``,
``hdrcharset``), base-256 numbers, signed and unsigned checksums. Names decode as tarfile
decodes them (PAX: UTF-8, falling back to the filesystem encoding; header fields: the
filesystem encoding with ``surrogateescape``), so paths are the ones tarfile gave.

Not supported, on purpose: PAX global headers (``g``) are skipped, where tarfile applies
their records to every later member (layer writers do not emit them; git archive's holds
only a comment); GNU sparse files (``S``, and PAX ``GNU.sparse.*``) are
:attr:`Kind.OTHER` members whose stored data is skipped, never expanded; other header
fields (mode, owner, times) are neither decoded nor checked beyond the checksum; tarfile's
leniency (``ignore_zeros``, a bad header after the first read as the end) is not
reproduced.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol
from zlib import adler32

BLOCK = 512
#: read-ahead for headers and small members: most files of an image fit in one chunk (a
#: layer's reading thread hands on pieces of this size whole, never copied)
CHUNK = 4 << 20
#: unread data is skipped in reads of this size
SKIP_CHUNK = 4 << 20
#: an extension header (PAX record set, GNU long name) is read whole into memory
MAX_EXTENDED = 8 << 20
#: a member size beyond any real file: a corrupt header, not a file
MAX_SIZE = 1 << 44

_ENCODING = sys.getfilesystemencoding()
_ZERO = bytes(BLOCK)
_LOW = bytes(range(128))  # deleting these leaves the bytes that sum differently when signed


class TarError(Exception):
    """The bytes are not a well-formed tar archive (one line: what, and at which byte)."""


class Kind(enum.Enum):
    """What a member is; only FILE members carry readable content."""

    FILE = "file"
    HARDLINK = "hardlink"
    SYMLINK = "symlink"
    CHAR = "char"
    BLOCK = "block"
    DIR = "dir"
    FIFO = "fifo"
    OTHER = "other"


_KINDS = {
    ord("0"): Kind.FILE,
    0: Kind.FILE,
    ord("7"): Kind.FILE,  # contiguous file
    ord("1"): Kind.HARDLINK,
    ord("2"): Kind.SYMLINK,
    ord("3"): Kind.CHAR,
    ord("4"): Kind.BLOCK,
    ord("5"): Kind.DIR,
    ord("6"): Kind.FIFO,
}
_GNU_LONGNAME, _GNU_LONGLINK, _GNU_SPARSE = ord("L"), ord("K"), ord("S")
_PAX, _PAX_SOLARIS, _PAX_GLOBAL = ord("x"), ord("X"), ord("g")
_EXTENSIONS = frozenset((_GNU_LONGNAME, _GNU_LONGLINK, _PAX, _PAX_SOLARIS, _PAX_GLOBAL))
#: headers whose 345:500 bytes are not a ustar prefix (tarfile's GNU_TYPES)
_NO_PREFIX = frozenset((_GNU_LONGNAME, _GNU_LONGLINK, _GNU_SPARSE))
_PAX_KEYS = frozenset((b"path", b"linkpath", b"size", b"hdrcharset", b"GNU.sparse.name"))


class Stream(Protocol):
    """What the reader needs of its input: ``read(n)``, short only at the end."""

    def read(self, n: int, /) -> bytes: ...


@dataclass(slots=True)
class Member:
    """One tar member. ``size`` counts the data stored after its header (0 for links,
    directories and devices, which store none); ``content`` is set for FILE members only."""

    name: str
    kind: Kind
    size: int
    linkname: str = ""
    content: Content | None = None


class _Reader:
    """The input with a read-ahead buffer; ``offset`` is the archive position of the next byte."""

    __slots__ = ("_base", "_buf", "_pos", "_read")

    def __init__(self, stream: Stream) -> None:
        self._read = stream.read
        self._buf = b""
        self._pos = 0
        self._base = 0  # archive offset of _buf[0]

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes, fewer only at the end of the input."""
        pos = self._pos
        buf = self._buf
        end = pos + n
        if end <= len(buf):
            self._pos = end
            return buf[pos:end]
        # the rest of the buffer, then new reads; the last read becomes the buffer (never
        # copied whole to join a header that straddles two reads)
        parts = [buf[pos:]] if pos < len(buf) else []
        have = len(buf) - pos
        self._base += len(buf)
        while True:
            data = self._read(max(CHUNK, n - have))
            if not data:
                self._buf, self._pos = b"", 0
                return b"".join(parts)
            need = n - have
            if len(data) >= need:
                self._buf, self._pos = data, need
                piece = data if need == len(data) else data[:need]  # no copy: a direct read
                if not parts:
                    return piece
                parts.append(piece)
                return b"".join(parts)
            parts.append(data)
            have += len(data)
            self._base += len(data)

    def skip(self, n: int) -> bool:
        """Pass ``n`` bytes; False when the input ends first."""
        left = len(self._buf) - self._pos
        if n <= left:
            self._pos += n
            return True
        n -= left
        self._base += len(self._buf)
        self._buf = b""
        self._pos = 0
        while n > 0:
            data = self._read(min(n, SKIP_CHUNK))
            if not data:
                return False
            n -= len(data)
            self._base += len(data)
        return True


class Content:
    """A FILE member's bytes: readable up to its size until the next member is requested."""

    __slots__ = ("_left", "_passed", "_reader")

    def __init__(self, reader: _Reader, size: int) -> None:
        self._reader = reader
        self._left = size
        self._passed = False

    def read(self, n: int = -1) -> bytes:
        if self._passed:
            raise ValueError("read from a tar member after the next one was requested")
        left = self._left
        if n < 0 or n > left:
            n = left
        if n == 0:
            return b""
        data = self._reader.take(n)
        self._left = left - len(data)
        if len(data) < n:
            raise TarError(f"unexpected end of data at byte {self._reader.offset}")
        return data

    def readable(self) -> bool:
        return True


def iter_members(stream: Stream) -> Iterator[Member]:
    """The members of the tar archive in ``stream``, in order; TarError when it is malformed.

    What the caller leaves unread of a member is skipped when the next one is requested.
    """
    reader = _Reader(stream)
    while True:
        member = _next_member(reader)
        if member is None:
            return
        content = member.content
        yield member
        if content is not None:
            content._passed = True
            left = content._left
        else:
            left = member.size
        if not reader.skip(left + (-member.size % BLOCK)):
            raise TarError(f"unexpected end of data at byte {reader.offset}")


def _next_member(reader: _Reader) -> Member | None:
    """Read headers up to and including the next member's; None at the end of the archive."""
    extensions: list[tuple[int, bytes, int]] = []  # (type, payload, offset) in archive order
    while True:
        start = reader.offset
        block = reader.take(BLOCK)
        if len(block) < BLOCK:
            if block or extensions:
                raise TarError(f"truncated header at byte {start}")
            return None
        if block == _ZERO:
            if extensions:
                raise TarError(f"end of archive after an extended header at byte {start}")
            return None
        _check(block, start)
        flag = block[156]
        size = _number(block[124:136])
        if size is None or size < 0 or size > MAX_SIZE:
            raise TarError(f"invalid member size in the header at byte {start}")
        if flag in _EXTENSIONS:
            if size > MAX_EXTENDED:
                raise TarError(f"extended header of {size} bytes at byte {start}")
            padded = size + (-size % BLOCK)
            payload = reader.take(padded)
            if len(payload) < padded:
                raise TarError(f"unexpected end of data at byte {reader.offset}")
            if flag == _PAX or flag == _PAX_SOLARIS:
                extensions.append((flag, payload[:size], start))
            elif flag != _PAX_GLOBAL:
                extensions.append((flag, payload, start))  # read to the first NUL, like tarfile
            continue
        return _member(reader, block, flag, size, extensions, start)


def _member(
    reader: _Reader,
    block: bytes,
    flag: int,
    size: int,
    extensions: list[tuple[int, bytes, int]],
    start: int,
) -> Member:
    """Build the member of a file header, patched by the extension headers before it.

    The order follows tarfile, whose extension headers wrap the member recursively: the
    innermost (last) one is applied first, so the first one in the archive wins."""
    raw = block[:100]
    nul = raw.find(0)
    name = (raw if nul < 0 else raw[:nul]).decode(_ENCODING, "surrogateescape")
    kind = _KINDS.get(flag, Kind.OTHER)
    if flag == 0 and name.endswith("/"):
        kind = Kind.DIR  # v7: a directory is a regular file named with a trailing slash
    if kind is Kind.DIR:
        name = name.rstrip("/")
    if block[345] and flag not in _NO_PREFIX:
        name = _text(block[345:500]) + "/" + name
    linkname = _text(block[157:257]) if block[157] else ""
    sparse = flag == _GNU_SPARSE
    if sparse:
        _skip_sparse_blocks(reader, block, start)
    for ext_flag, payload, at in reversed(extensions):
        if ext_flag == _GNU_LONGNAME or ext_flag == _GNU_LONGLINK:
            if ext_flag == _GNU_LONGNAME:
                name = _text(payload)
            else:
                linkname = _text(payload)
            if kind is Kind.DIR:
                name = name.removesuffix("/")
            continue
        pax = _pax(payload, at)
        # path and linkpath are UTF-8 unless hdrcharset says BINARY (tarfile's rule)
        encoding = _ENCODING if pax.get(b"hdrcharset") == b"BINARY" else "utf-8"
        if b"path" in pax:
            name = _pax_decode(pax[b"path"], encoding).rstrip("/")
        if b"linkpath" in pax:
            linkname = _pax_decode(pax[b"linkpath"], encoding)
        if b"size" in pax:
            size = _pax_size(pax[b"size"], at)
        if b"GNU.sparse." in pax:
            sparse = True
            if b"GNU.sparse.name" in pax:
                name = _pax_decode(pax[b"GNU.sparse.name"], "utf-8")
    if sparse:
        kind = Kind.OTHER
    if kind is Kind.FILE:
        return Member(name, kind, size, linkname, Content(reader, size))
    if kind is Kind.OTHER:
        return Member(name, kind, size, linkname)
    return Member(name, kind, 0, linkname)  # tarfile stores and skips no data for these


def _check(block: bytes, start: int) -> None:
    """Verify a header's checksum, summed unsigned or (old Sun tars) signed, like tarfile."""
    field = block[148:156]
    stored = _number(field)
    # the field itself counts as eight spaces; the block's byte sum taken as adler32's low
    # half of each 256-byte half (1 + the sum, exact: 256 * 255 < 65521), 6x faster than sum()
    total = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2
    unsigned = total - sum(field) + 256
    if stored == unsigned:
        return
    high = len(block.translate(None, _LOW)) - len(field.translate(None, _LOW))
    if stored is None or stored != unsigned - 256 * high:
        raise TarError(f"bad checksum in the header at byte {start}")


def _number(field: bytes) -> int | None:
    """A numeric header field: octal text, or GNU base-256 (0x80 positive, 0xff negative)."""
    first = field[0]
    if first == 0x80:
        return int.from_bytes(field[1:], "big")
    if first == 0xFF:
        return int.from_bytes(field[1:], "big") - (1 << (8 * (len(field) - 1)))
    nul = field.find(0)
    if nul >= 0:
        field = field[:nul]
    field = field.strip()
    if not field:
        return 0
    try:
        return int(field, 8)
    except ValueError:
        return None


def _text(raw: bytes) -> str:
    """A NUL-terminated header field (or GNU long name) decoded as tarfile decodes it."""
    nul = raw.find(0)
    return (raw if nul < 0 else raw[:nul]).decode(_ENCODING, "surrogateescape")


def _skip_sparse_blocks(reader: _Reader, block: bytes, start: int) -> None:
    """Pass an old GNU sparse header's extension blocks (each says whether another follows)."""
    extended = block[482]
    while extended:
        more = reader.take(BLOCK)
        if len(more) < BLOCK:
            raise TarError(f"truncated sparse header after byte {start}")
        extended = more[504]


def _pax(data: bytes, start: int) -> dict[bytes, bytes]:
    """The records ``"<length> <key>=<value>\\n"`` of a PAX extended header that matter here.

    Every record's framing is checked; only path, linkpath, size, hdrcharset and whether
    the member is GNU sparse are kept (a layer's PAX headers mostly carry mtime)."""
    records: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos, pos + 21)
        digits = data[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise TarError(f"invalid PAX record in the extended header at byte {start}")
        end = pos + int(digits)
        if end > len(data) or end <= space + 2 or data[end - 1] != 0x0A:
            raise TarError(f"invalid PAX record in the extended header at byte {start}")
        key, eq, value = data[space + 1 : end - 1].partition(b"=")
        if not key or not eq:
            raise TarError(f"invalid PAX record in the extended header at byte {start}")
        if key in _PAX_KEYS:
            records[key] = value
        if key.startswith(b"GNU.sparse."):
            records[b"GNU.sparse."] = b""
        pos = end
    return records


def _pax_decode(raw: bytes, encoding: str) -> str:
    """A PAX value: strictly in its encoding, else the filesystem's with surrogateescape."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return raw.decode(_ENCODING, "surrogateescape")


def _pax_size(value: bytes, start: int) -> int:
    if not (value.isdigit() and len(value) <= 20) or int(value) > MAX_SIZE:
        raise TarError(f"invalid size in the extended header at byte {start}")
    return int(value)
