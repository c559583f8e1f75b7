"""A layer read ahead by a thread hands on the same bytes, its errors in place, and stops."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import threading

import pytest

from leakscan.sources.image.interface import ImageError
from leakscan.sources.image.layer import iter_layer
from leakscan.sources.image.readahead import Prefetched, ReadAhead
from tests.sources.image.helpers import tar_bytes


class _Pieces:
    """A stream of the given pieces, then an error (if any)."""

    def __init__(self, pieces: list[bytes], error: Exception | None = None) -> None:
        self.pieces = list(pieces)
        self.error = error

    def read(self, n: int = -1) -> bytes:
        if self.pieces:
            return self.pieces.pop(0)
        if self.error is not None:
            raise self.error
        return b""


def test_the_same_bytes_in_reads_of_any_size() -> None:
    data = bytes(range(256)) * 4000
    ahead = ReadAhead(io.BytesIO(data), piece=1000, depth=2)  # type: ignore[arg-type]
    out = []
    for n in (1, 511, 1000, 4096, 3, 70_000) * 20:
        chunk = ahead.read(n)
        assert len(chunk) <= n
        out.append(chunk)
    out.append(ahead.read())
    assert b"".join(out) == data
    assert ahead.read(10) == b""


def test_an_error_is_raised_after_the_bytes_read_before_it() -> None:
    stream = _Pieces([b"abc", b"def"], ImageError("layer 1: corrupt gzip stream"))
    ahead = ReadAhead(stream, piece=3)  # type: ignore[arg-type]
    assert ahead.read(3) + ahead.read(3) == b"abcdef"
    with pytest.raises(ImageError, match="corrupt gzip stream"):
        ahead.read(3)
    assert ahead.read(3) == b""


def test_close_stops_a_thread_waiting_to_hand_on_more() -> None:
    class Endless:
        def read(self, n: int = -1) -> bytes:
            return b"x" * n

    ahead = ReadAhead(Endless(), piece=10, depth=1)  # type: ignore[arg-type]
    assert ahead.read(5) == b"xxxxx"
    ahead.close()
    assert not any(t.name == "leakscan-layer-reader" for t in threading.enumerate())
    assert ahead.read(5) == b""


def test_a_prefetched_stream_hands_on_its_bytes_and_closing_it_closes_the_stream() -> None:
    data = bytes(range(256)) * 1000
    raw = io.BytesIO(data)
    ahead = Prefetched(raw, piece=1000, depth=2, name="leakscan-test-download")
    buffer = bytearray(300)
    out = [bytes(buffer[: ahead.readinto(buffer)]), ahead.read(5000)]
    while chunk := ahead.read(700):
        out.append(chunk)
    assert b"".join(out) == data
    ahead.close()
    assert raw.closed
    assert not any(t.name == "leakscan-test-download" for t in threading.enumerate())


def test_closing_a_prefetched_stream_midway_stops_its_thread() -> None:
    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int | None = -1) -> bytes:
            return b"x" * (n or 1)

    raw = Endless()
    with Prefetched(raw, piece=10, depth=1, name="leakscan-test-download") as ahead:  # type: ignore[arg-type]
        assert ahead.read(5) == b"xxxxx"
    assert raw.closed
    assert not any(t.name == "leakscan-test-download" for t in threading.enumerate())


@pytest.mark.parametrize("compress", [lambda raw: raw, gzip.compress], ids=["plain", "gzip"])
def test_a_layers_uncompressed_bytes_are_hashed_whole_its_tail_included(compress) -> None:
    # a gzip layer is inflated by one thread and hashed by another: the same digest
    files = [(f"f{i}.bin", os.urandom(300_000)) for i in range(40)]  # pieces of 4 MiB and more
    raw = tar_bytes(files) + bytes(4096)  # zero blocks past the tar's end count too
    hasher = hashlib.sha256()
    read = {
        e.path: e.content.read() for e in iter_layer(io.BytesIO(compress(raw)), "L", hasher=hasher)
    }  # type: ignore[union-attr]
    assert read == dict(files)
    assert hasher.hexdigest() == hashlib.sha256(raw).hexdigest()
    assert not any(t.name.startswith("leakscan-layer") for t in threading.enumerate())
