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


#: 2: directories listed instead of every entry, a file's sha256 not repeated in its hashes
FORMAT = 2


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
            sorted(index.entries - index.nondirs),  # the directories
            sorted(index.nondirs),
            sorted(index.whiteouts),
            sorted(index.opaques),
        ],
        "packages": None
        if record.packages is None
        else {p: sorted(map(list, recs)) for p, recs in record.packages.expected.items()},
        "files": [[f.path, f.digest, _short(f.digest, f.hashes)] for f in record.files],
        "skips": [list(s) for s in record.skips],
    }
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 1)


def decode(data: bytes) -> Any | None:
    """The record back (``None`` for an unreadable or older one: the layer is read again)."""
    try:
        doc = json.loads(zlib.decompress(data))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None
        dirs, nondirs, whiteouts, opaques = doc["index"]
        files_ = set(nondirs)
        index = LayerIndex(files_ | set(dirs), files_, set(whiteouts), set(opaques))
        packages = None
        if doc["packages"] is not None:
            packages = PackageDb()
            packages.expected = {
                str(p): {(str(a), str(h)) for a, h in recs} for p, recs in doc["packages"].items()
            }
        files = [FileRecord(str(p), str(d), _full(str(d), h)) for p, d, h in doc["files"]]
        skips = [(str(w), str(r)) for w, r in doc["skips"]]
    except (ValueError, TypeError, KeyError, zlib.error):
        return None
    return LayerRecord(index=index, packages=packages, files=files, skips=skips)


def _short(digest: str, hashes: dict[str, str]) -> dict[str, str] | int:
    """A file's hashes as kept: its sha256 left out where it is the digest; 0 for none."""
    if not hashes:
        return 0
    if hashes.get("sha256") == digest[7:]:
        return {a: h for a, h in hashes.items() if a != "sha256"}
    return hashes


def _full(digest: str, kept: Any) -> dict[str, str]:
    if kept == 0:
        return {}
    out = {"sha256": digest[7:]} if digest.startswith("sha256:") else {}
    out.update((str(a), str(h)) for a, h in kept.items())
    return out
