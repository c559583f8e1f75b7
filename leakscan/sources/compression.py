"""Compressed streams: which compression by the magic bytes, and a reader for each.

Shared by image layers (``sources/image/layer.py``) and compressed files and archives met
anywhere (``sources/content.py``), so both recognise and open the same formats the same way.
"""

from __future__ import annotations

import _compression
import bz2
import gzip
import io
import lzma
import re
import zlib
from typing import IO, Any, cast

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
XZ_MAGIC = b"\xfd7zXZ\x00"
#: "BZh", a block size digit, then the first block's (or the empty stream's end) magic
BZIP2_MAGIC = re.compile(rb"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")

#: memory an xz stream may ask for (its dictionary); zstd's decoder has its own (128 MiB)
XZ_MEMLIMIT = 256 * 1024**2

#: what a corrupt stream raises, besides the zstandard and isal modules' own errors
_STREAM_ERRORS = (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error)


def sniff(head: bytes) -> str | None:
    """gzip, zstd, xz or bzip2 by the magic bytes; None for none of them."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    if BZIP2_MAGIC.match(head):
        return "bzip2"
    return None


def reader(how: str, raw: Any) -> IO[bytes]:
    """A decompressing reader of ``raw`` for compression ``how`` (as :func:`sniff` names it)."""
    if how == "gzip":
        try:
            from isal import igzip  # ~4x faster inflate
        except ImportError:  # pragma: no cover - isal is a dependency, gzip the fallback
            return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        return cast(IO[bytes], igzip.IGzipFile(fileobj=raw, mode="rb"))  # type: ignore[no-untyped-call]
    if how == "xz":
        # LZMAFile has no memory limit: a header may declare a 1.5 GiB dictionary
        decoder = _compression.DecompressReader(
            raw, lzma.LZMADecompressor, trailing_error=lzma.LZMAError, memlimit=XZ_MEMLIMIT
        )
        return cast(IO[bytes], io.BufferedReader(decoder))
    if how == "bzip2":
        return cast(IO[bytes], bz2.BZ2File(raw))
    if how == "zstd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return cast(IO[bytes], stream)
    raise ValueError(f"unknown compression {how!r}")


_GZIP_SMALLEST = 20  # a 10-byte header, an empty deflate block, an 8-byte trailer


def inflate_gzip(data: bytes, limit: int) -> bytes | None:
    """The content of ``data`` when it is one whole gzip member of at most ``limit`` bytes,
    inflated in one call; ``None`` when it is not that simple (more members, bytes after it,
    corrupt, larger), for the caller to read it as a stream, which says why. A file object
    costs ~50 µs more a file (its buffers and reads): ~2,000 small ``.gz`` files an image.

    A member whose trailer declares more than ``limit`` bytes (its size modulo 2**32) is not
    tried: the stream inflates it once. Only a trailer that lies, more members or corrupt data
    are inflated again by the stream (as far as this call went: ``limit`` bytes at most)."""
    if len(data) < _GZIP_SMALLEST or int.from_bytes(data[-4:], "little") > limit:
        return None
    try:
        from isal import isal_zlib

        inflater: Any = isal_zlib.decompressobj(wbits=31)
    except ImportError:  # pragma: no cover - isal is a dependency
        inflater = zlib.decompressobj(wbits=31)
    try:
        out: bytes = inflater.decompress(data, limit + 1)
    except Exception:  # corrupt: the stream's reader tells how
        return None
    if not inflater.eof or inflater.unused_data or len(out) > limit:
        return None
    return out


def is_corrupt_stream(exc: BaseException) -> bool:
    """Whether ``exc``, raised while reading a :func:`reader`, means corrupt compressed data."""
    return isinstance(exc, _STREAM_ERRORS) or type(exc).__module__.startswith(
        ("zstandard", "isal", "igzip")
    )
