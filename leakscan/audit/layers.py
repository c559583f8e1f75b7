"""One layer scanned: its entries (path, kind, content digest) and matches per path."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import IO

from leakscan.engine.detector import Detector
from leakscan.model import Match, Provenance, Skip
from leakscan.sources.archives import is_archive_name
from leakscan.sources.filesystem import (
    SNIFF_BYTES,
    archive_magic,
    excluded,
    file_blobs,
    looks_binary,
)
from leakscan.sources.image.layer import FILE, iter_layer
from leakscan.sources.interface import SourceOptions


@dataclass(slots=True)
class ScannedLayer:
    entries: list[tuple[str, str, str | None]] = field(default_factory=list)
    matches: list[tuple[str, Match]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    files: int = 0
    bytes: int = 0


class _Hashing:
    def __init__(self, raw: IO[bytes], head: bytes) -> None:
        self.raw = raw
        self.head = head
        self.hash = hashlib.sha256(head)

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = self.head, b""
            return out
        data = self.raw.read(n)
        self.hash.update(data)
        return data

    def readable(self) -> bool:
        return True


def scan_layer(
    raw: IO[bytes],
    where: str,
    detector: Detector,
    options: SourceOptions,
    seen: dict[str, list[tuple[str, Match]]],
) -> ScannedLayer:
    """Walk a layer blob and scan each regular file once per content (``seen`` by digest)."""
    out = ScannedLayer()
    for item in iter_layer(raw, where, options.max_ratio):
        if isinstance(item, Skip):
            out.skipped.append(item)
            continue
        if item.kind != FILE or item.content is None:
            out.entries.append((item.path, item.kind, None))
            continue
        if excluded(item.path, options.exclude):
            out.entries.append((item.path, item.kind, None))
            continue
        if item.size > options.max_file_bytes:
            out.entries.append((item.path, item.kind, None))
            out.skipped.append(
                Skip(f"{where}:{item.path}", f"larger than {options.max_file_bytes} bytes")
            )
            continue
        if item.size <= options.in_memory_bytes:
            data = item.content.read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            out.entries.append((item.path, item.kind, digest))
            found = seen.get(digest)
            if found is None:
                found = _scan_content(data, item.path, detector, options, out)
                seen[digest] = found
            out.matches.extend((item.path + suffix, m) for suffix, m in found)
            continue
        else:
            head = item.content.read(SNIFF_BYTES)
            stream = _Hashing(item.content, head)
            if not options.scan_binary and looks_binary(head):
                while stream.read(1 << 20):
                    pass
                matches = []
            else:
                matches = detector.scan_stream(stream)  # type: ignore[arg-type]
                out.files += 1
                out.bytes += item.size
            out.entries.append((item.path, item.kind, "sha256:" + stream.hash.hexdigest()))
        out.matches.extend((item.path, m) for m in matches)
    return out


def _scan_content(
    data: bytes, path: str, detector: Detector, options: SourceOptions, out: ScannedLayer
) -> list[tuple[str, Match]]:
    """Matches of one file's bytes as (path suffix, match): ``""`` for the file itself,
    ``"!inner/path"`` for a member of an archive it is (jar, war, zip, whl, tgz...)."""
    head = data[:SNIFF_BYTES]
    if not (is_archive_name(path) or archive_magic(head)):
        if not options.scan_binary and looks_binary(head):
            return []
        out.files += 1
        out.bytes += len(data)
        return [("", m) for m in detector.scan(data)]
    found: list[tuple[str, Match]] = []
    for blob in file_blobs(
        io.BytesIO(data), len(data), path, Provenance("file", {"path": path}), options
    ):
        if isinstance(blob, Skip):
            out.skipped.append(blob)
            continue
        content = (
            blob.data if blob.data is not None else (blob.stream.read() if blob.stream else b"")
        )
        suffix = str(blob.provenance.fields["path"])[len(path) :]
        out.files += 1
        out.bytes += len(content)
        found.extend((suffix, m) for m in detector.scan(content))
    return found
