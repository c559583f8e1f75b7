"""Archives nested in a scanned tree or layer: zip, jar, war, ear, whl, apk, tar, tar.gz, tgz.

Members are read in memory (never extracted to disk), bounded by the archive size limit and
the decompression ratio; a member's path is ``outer.jar!inner/path``.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.interface import SourceOptions

ZIP_SUFFIXES = (".zip", ".jar", ".war", ".ear", ".whl", ".apk", ".aar", ".nupkg", ".egg")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".crate", ".gem")

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
    outer = str(provenance.fields.get("path", name))
    if data.startswith(b"PK"):
        yield from _zip(data, outer, provenance, options, depth, recurse)
        return
    try:
        raw = data
        if data.startswith(b"\x1f\x8b"):
            inflated = _gunzip(data, options)
            if inflated is None:
                yield Skip(outer, "compressed archive exceeds the size or ratio limit")
                return
            raw = inflated
        if raw[257:262] != b"ustar" and not name.lower().endswith(TAR_SUFFIXES):
            # a gzip'd single file (not a tar): scan its content
            if raw is not data:
                _, prov = _member(provenance, outer, name.removesuffix(".gz"))
                yield from recurse(io.BytesIO(raw), len(raw), name, prov, options, depth)
            return
        yield from _tar(raw, outer, provenance, options, depth, recurse)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        yield Skip(outer, f"corrupt archive: {exc}")


def _gunzip(data: bytes, options: SourceOptions) -> bytes | None:
    limit = min(options.archive_bytes, max(len(data), 1) * options.max_ratio)
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
        out = gz.read(limit + 1)
    return None if len(out) > limit else out


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
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > budget or ratio > options.max_ratio:
                yield Skip(path, "member exceeds the archive size or decompression ratio limit")
                continue
            try:
                with archive.open(info) as handle:
                    content = handle.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
                yield Skip(path, f"cannot read zip member: {exc}")
                continue
            budget -= len(content)
            yield from recurse(
                io.BytesIO(content), len(content), info.filename, prov, options, depth
            )


def _tar(
    raw: bytes,
    outer: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int,
    recurse: Recurse,
) -> Iterator[Blob | Skip]:
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        for info in archive:
            if not info.isreg():
                continue
            _, prov = _member(provenance, outer, info.name)
            handle = archive.extractfile(info)
            if handle is None:
                continue
            content = handle.read()
            yield from recurse(io.BytesIO(content), len(content), info.name, prov, options, depth)
