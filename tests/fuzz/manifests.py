"""Shared by the manifest fuzz targets (JSON, YAML, .env, TOML/INI, Dockerfile)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from leakscan.model import Blob, Provenance, ScanResult, Skip
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from leakscan.sources.manifests.source import structured_blobs
from tests.fuzz.harness import bounded_memory, scan_checked


def parse(name: str, data: bytes, kind: str | None = None) -> list[Blob | Skip]:
    """The key-by-key blobs and skips of one manifest (the parser's own entry point)."""
    with bounded_memory():
        return parse_unbounded(name, data, kind)


def parse_unbounded(name: str, data: bytes, kind: str | None = None) -> list[Blob | Skip]:
    """:func:`parse` without the heap check (tracemalloc slows YAML alias expansion 7x)."""
    blob = Blob(Provenance("file", {"path": name}), data=data)
    items = list(structured_blobs(blob, kind))
    for item in items:
        assert isinstance(item, Blob | Skip), item
        if isinstance(item, Skip):
            assert item.reason and "\n" not in item.reason, item
    return items


def scan_file(name: str, data: bytes, rules: Path) -> ScanResult:
    """A tree holding one file, scanned as ``leakscan scan PATH`` does (text and keys)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
