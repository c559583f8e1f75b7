"""A layer's record as a content cache keeps it: whiteout index, package records, files.

Only a layer read whole (every file digested, no bomb, no read error) is kept. Its record tells
the image source everything it needs to place the layer's files in any image without reading
the layer again; their matches are kept by content digest (the scanner's side).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from leakscan.sources.image.vendor import PackageDb
from leakscan.sources.image.whiteouts import LayerIndex


@dataclass(slots=True)
class FileRecord:
    path: str  # as reported (a nested archive member is "outer.jar!inner")
    digest: str
    hashes: dict[str, str]


@dataclass(slots=True)
class LayerRecord:
    index: LayerIndex = field(default_factory=LayerIndex)
    # the records of the package databases this layer writes (parsed once: a layer's rpm
    # database is tens of MB, its records a fraction of that)
    packages: PackageDb | None = None
    bomb: str | None = None
    error: str | None = None  # the layer could not be read (corrupt, truncated, missing)
    files: list[FileRecord] | None = None  # set once its content was scanned in full
    skips: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


FORMAT = 1


class LayerStore(Protocol):
    """Where layer records live between runs (``leakscan.store.content_cache``)."""

    def get_layer(self, layer: str) -> bytes | None: ...

    def put_layer(self, layer: str, record: bytes) -> None: ...


def cacheable(record: Any) -> bool:
    return record.files is not None and record.bomb is None and record.error is None


def encode(record: Any) -> bytes:
    """A complete :class:`~leakscan.sources.image.source.LayerRecord` as bytes."""
    index: LayerIndex = record.index
    doc = {
        "format": FORMAT,
        "index": [
            sorted(index.entries),
            sorted(index.nondirs),
            sorted(index.whiteouts),
            sorted(index.opaques),
        ],
        "packages": None
        if record.packages is None
        else {p: sorted(map(list, recs)) for p, recs in record.packages.expected.items()},
        "files": [[f.path, f.digest, f.hashes] for f in record.files],
        "skips": [list(s) for s in record.skips],
    }
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def decode(data: bytes) -> Any | None:
    """The record back (``None`` for an unreadable or older one: the layer is read again)."""
    try:
        doc = json.loads(zlib.decompress(data))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None
        entries, nondirs, whiteouts, opaques = doc["index"]
        index = LayerIndex(set(entries), set(nondirs), set(whiteouts), set(opaques))
        packages = None
        if doc["packages"] is not None:
            packages = PackageDb()
            packages.expected = {
                str(p): {(str(a), str(h)) for a, h in recs} for p, recs in doc["packages"].items()
            }
        files = [FileRecord(str(p), str(d), dict(h)) for p, d, h in doc["files"]]
        skips = [(str(w), str(r)) for w, r in doc["skips"]]
    except (ValueError, TypeError, KeyError, zlib.error):
        return None
    return LayerRecord(index=index, packages=packages, files=files, skips=skips)
