"""One content path: the same bytes give the same blobs and skip reasons from any source."""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakscan.locations import location_of
from leakscan.model import Blob, Skip
from leakscan.sources.content import ARCHIVE, BINARY, IN_MEMORY, STREAM, route
from leakscan.sources.filesystem import FilesystemSource
from leakscan.sources.git import GitSource
from leakscan.sources.interface import ScanContext, SourceOptions
from tests.conftest import require
from tests.sources.git.gitrepo import GitRepo
from tests.sources.image.helpers import tar_bytes

OPTIONS = SourceOptions(max_file_bytes=4000, in_memory_bytes=1000)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


FILES = {
    "notes.txt": b"db_password = Zp8Qw2Lk9XvB\n",  # leakscan:allow (synthetic test value)
    # a NUL byte in front of a .env must not hide it; a binary without a text name is left out
    "app.env": b"\x00\x01\x02" * 100 + b"\nTOKEN=Zp8Qw2Lk9XvB\n",  # leakscan:allow (synthetic)
    "blob.dat": b"\x00\x01\x02" * 100,
    "large.log": b"line of text\n" * 200,  # over the in-memory limit: a stream
    "huge.log": b"x" * 5000,  # over the file size limit
    "bundle.zip": _zip({"conf/a.properties": b"key=value\n", "zeros.txt": b"0" * 500_000}),
}


def _items(items: Iterator[Blob | Skip], root: str) -> tuple[dict[str, bytes], list[str]]:
    """(content by path under ``root``, the skip reasons); a stream is read as it comes."""
    blobs, reasons = {}, []
    for item in items:
        if isinstance(item, Skip):
            reasons.append(item.reason)
            continue
        path = str(location_of(item.provenance).path or "")
        if path:  # git also yields its commit messages
            content = item.data if item.stream is None else item.stream.read()
            blobs[path.removeprefix(root)] = bytes(content or b"")
    return blobs, sorted(reasons)


def test_files_and_git_blobs_go_the_same_way(tmp_path: Path) -> None:
    require(shutil.which("git") is not None, "git is not installed")
    repo = GitRepo(tmp_path / "repo")
    for name, data in FILES.items():
        (repo.path / name).write_bytes(data)
    repo.commit("all files")
    on_disk = _items(
        FilesystemSource(str(repo.path), OPTIONS).blobs(ScanContext()), f"{repo.path}/"
    )
    in_git = _items(GitSource(str(repo.path), OPTIONS).blobs(ScanContext()), "")
    assert on_disk == in_git
    blobs, reasons = on_disk
    assert set(blobs) == {"notes.txt", "app.env", "large.log", "bundle.zip!conf/a.properties"}
    assert reasons == [
        "inflates more than 200:1 (decompression bomb)",
        "larger than the file size limit (4000 bytes)",
    ]


@pytest.mark.parametrize(
    ("head", "size", "names", "expected"),
    [
        (b"plain text\n", 10, ("a.txt",), IN_MEMORY),
        (b"plain text\n", 5000, ("a.txt",), STREAM),
        (b"\x00\x01\x02" * 50, 10, ("a.bin",), BINARY),
        (b"\x00\x01\x02" * 50, 10, ("a.bin", "settings.yaml"), IN_MEMORY),  # any name says text
        (b"PK\x03\x04rest", 10, ("noext",), ARCHIVE),  # by its magic bytes
        (b"anything", 10, ("lib/app.JAR",), ARCHIVE),  # by its name
    ],
)
def test_route(head: bytes, size: int, names: tuple[str, ...], expected: str) -> None:
    assert route(head, size, OPTIONS, *names) == expected


def test_a_compressed_file_that_inflates_small_is_held_in_memory(tmp_path: Path) -> None:
    """Its size is known only once inflated: a small one is one in-memory blob (cached by
    digest, sent to worker processes), a large one is still streamed, both read whole."""
    import gzip

    small = b"key = value\n" * 50  # 600 bytes: under the 1000-byte in-memory limit
    large = b"line of text\n" * 200  # 2600 bytes: over it
    (tmp_path / "small.conf.gz").write_bytes(gzip.compress(small))
    (tmp_path / "large.log.gz").write_bytes(gzip.compress(large))
    blobs = {
        str(location_of(b.provenance).path).rsplit("/", 1)[-1]: b
        for b in FilesystemSource(str(tmp_path), OPTIONS).blobs(ScanContext())
        if isinstance(b, Blob)
    }
    held = blobs["small.conf.gz!small.conf"]
    assert held.data == small and held.stream is None
    streamed = blobs["large.log.gz!large.log"]
    assert streamed.data is None and streamed.stream is not None
    assert streamed.stream.read() == large


def test_inflate_gzip_takes_only_one_whole_member_within_the_limit() -> None:
    import gzip

    from leakscan.sources.compression import inflate_gzip

    text = b"key = value\n" * 50
    one = gzip.compress(text)
    assert inflate_gzip(one, len(text)) == text
    assert inflate_gzip(gzip.compress(b""), 0) == b""
    assert inflate_gzip(one, len(text) - 1) is None  # larger than the limit
    assert inflate_gzip(one + gzip.compress(text), 10 * len(text)) is None  # two members
    assert inflate_gzip(one + b"junk", 10 * len(text)) is None  # bytes after it
    assert inflate_gzip(one[:-12], 10 * len(text)) is None  # truncated
    corrupt = one[:12] + b"\xff" * 8 + one[20:]
    assert inflate_gzip(corrupt, 10 * len(text)) is None
    lying = one[:-4] + (1).to_bytes(4, "little")  # its trailer declares 1 byte
    assert inflate_gzip(lying, 100) is None


class _Inflated:
    """Counts the bytes inflated from gzip data, in one call or by the stream reader."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from isal import isal_zlib

        from leakscan.sources import content

        self.bytes = 0
        counter = self
        make, general = isal_zlib.decompressobj, content.reader

        class Counted:
            def __init__(self, inner: object) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> object:
                return getattr(self._inner, name)

            def decompress(self, *args: object) -> bytes:
                out: bytes = self._inner.decompress(*args)  # type: ignore[attr-defined]
                counter.bytes += len(out)
                return out

            def read(self, n: int = -1) -> bytes:
                out: bytes = self._inner.read(n)  # type: ignore[attr-defined]
                counter.bytes += len(out)
                return out

        monkeypatch.setattr(isal_zlib, "decompressobj", lambda **kw: Counted(make(**kw)))
        monkeypatch.setattr(content, "reader", lambda how, raw: Counted(general(how, raw)))


@pytest.mark.parametrize(
    ("name", "in_memory"),
    [
        ("bundle.gz", 20_000),  # a tar, inflated in one call
        ("bundle.tar.gz", 20_000),
        ("bundle.gz", 1000),  # a tar over the in-memory limit: by the stream
        ("big.log.gz", 1000),
        ("small.conf.gz", 1000),
    ],
)
def test_a_gzip_file_is_inflated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, in_memory: int
) -> None:
    """In one call when it is small, else by the stream; a tar in it, however named, is read
    from that one inflation, and one over the in-memory limit is not tried in one call first."""
    import gzip

    secret = b"db_password = Zp8Qw2Lk9XvB\n"  # leakscan:allow (synthetic test value)
    if name.startswith("bundle"):
        members = {"etc/app.conf": secret, "var/log/app.log": b"line of text\n" * 30}
        inner = tar_bytes(list(members.items()))
    else:
        inner = secret * (5 if name.startswith("small") else 200)
    options = SourceOptions(max_file_bytes=40_000, in_memory_bytes=in_memory)
    (tmp_path / name).write_bytes(gzip.compress(inner))
    inflated = _Inflated(monkeypatch)
    blobs, reasons = _items(FilesystemSource(str(tmp_path), options).blobs(ScanContext()), "")
    assert reasons == []
    if name.startswith("bundle"):
        assert {path.rsplit("!", 1)[-1]: data for path, data in blobs.items()} == members
    else:
        assert list(blobs.values()) == [inner]
    assert inflated.bytes == len(inner)


@pytest.mark.parametrize("how", ["bz2", "xz"])
def test_a_compressed_binary_is_dropped_on_its_first_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A compressed file whose content starts binary is left as file_blobs leaves a binary,
    without inflating the rest of it; compressed text the same size is read whole."""
    import bz2
    import lzma

    from leakscan.sources.content import SNIFF_BYTES

    compress = bz2.compress if how == "bz2" else lzma.compress
    binary = bytes(range(256)) * 800  # 200 KB with NUL bytes: not text
    rng = random.Random(7)  # text that compresses as text does, not as a bomb
    text = b"".join(b"key_%d = %x\n" % (i, rng.getrandbits(64)) for i in range(8_000))
    options = SourceOptions(max_file_bytes=1 << 20, in_memory_bytes=1 << 20)
    (tmp_path / f"model.bin.{how}").write_bytes(compress(binary))
    inflated = _Inflated(monkeypatch)
    blobs, reasons = _items(FilesystemSource(str(tmp_path), options).blobs(ScanContext()), "")
    assert blobs == {} and reasons == []
    assert inflated.bytes == SNIFF_BYTES  # its first block, not its 200 KB
    (tmp_path / f"model.bin.{how}").unlink()
    (tmp_path / f"app.conf.{how}").write_bytes(compress(text))
    blobs, reasons = _items(FilesystemSource(str(tmp_path), options).blobs(ScanContext()), "")
    assert list(blobs.values()) == [text] and reasons == []
    assert inflated.bytes == SNIFF_BYTES + len(text)
