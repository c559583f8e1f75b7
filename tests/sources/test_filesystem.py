"""The filesystem source: walk, excludes, binaries, nested archives, large files, links."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from pathlib import Path

from leakscan.model import Blob, Skip
from leakscan.sources.content import looks_binary
from leakscan.sources.filesystem import FilesystemSource
from leakscan.sources.interface import ScanContext, SourceOptions


def items(target: Path | str, **kw: object) -> list[Blob | Skip]:
    return list(FilesystemSource(str(target), SourceOptions(**kw)).blobs(ScanContext()))  # type: ignore[arg-type]


def paths(target: Path, **kw: object) -> set[str]:
    return {str(b.provenance.fields["path"]) for b in items(target, **kw) if isinstance(b, Blob)}


def test_walk_respects_exclude_globs_and_skips_git_dirs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep.txt").write_text("x")
    (tmp_path / "a" / "drop.log").write_text("x")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "v.txt").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    got = paths(tmp_path, exclude=("*.log", "vendor"))
    assert got == {f"{tmp_path}/a/keep.txt"}


def test_binary_files_are_skipped_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(b"\x7fELF\x00\x01\x02" + bytes(range(256)) * 4)
    (tmp_path / "u16.txt").write_bytes("token: abc\n".encode("utf-16"))
    assert paths(tmp_path) == {f"{tmp_path}/u16.txt"}
    assert paths(tmp_path, scan_binary=True) == {f"{tmp_path}/bin", f"{tmp_path}/u16.txt"}
    assert looks_binary(b"\x00\x01\x02\x03binary")
    assert not looks_binary("hello".encode("utf-16-le"))


def test_nested_archives_are_opened_to_a_bounded_depth(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        # leakscan:allow (synthetic test value)
        z.writestr("conf/app.properties", "db.password=Zp8Qw2Lk9XvB\n")
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as t:
        info = tarfile.TarInfo("lib/app.jar")
        info.size = len(inner.getvalue())
        t.addfile(info, io.BytesIO(inner.getvalue()))
    (tmp_path / "bundle.tar.gz").write_bytes(gzip.compress(tar_bytes.getvalue()))
    blobs = [b for b in items(tmp_path) if isinstance(b, Blob)]
    assert [b.provenance.fields["path"] for b in blobs] == [
        f"{tmp_path}/bundle.tar.gz!lib/app.jar!conf/app.properties"
    ]
    assert blobs[0].data == b"db.password=Zp8Qw2Lk9XvB\n"  # leakscan:allow (synthetic test value)
    shallow = items(tmp_path, archive_depth=1)
    assert any(isinstance(s, Skip) and "nested archive" in s.reason for s in shallow)


def test_zip_bomb_member_is_skipped_and_reported(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.txt", b"0" * 5_000_000)
    got = items(tmp_path)
    assert [s.reason for s in got if isinstance(s, Skip)] == [
        "inflates more than 200:1 (decompression bomb)"
    ]


def test_large_files_become_streams_and_oversized_ones_are_reported(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"a = 1\n" * 2000)
    (tmp_path / "huge.txt").write_bytes(b"a = 1\n" * 20000)
    source = FilesystemSource(
        str(tmp_path), SourceOptions(in_memory_bytes=1000, max_file_bytes=50_000)
    )
    got, contents = [], []
    for item in source.blobs(ScanContext()):  # a stream is read before the source advances
        got.append(item)
        if isinstance(item, Blob):
            assert item.data is None and item.stream is not None
            contents.append(item.stream.read())
    assert contents == [b"a = 1\n" * 2000]
    assert any(isinstance(s, Skip) and s.where.endswith("huge.txt") for s in got)


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside, tree / "link-dir")
    os.symlink(outside / "secret.txt", tree / "link-file")
    os.symlink(tree, tree / "loop")
    assert paths(tree) == set()
