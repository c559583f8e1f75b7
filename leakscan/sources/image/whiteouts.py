"""Whiteouts and opaque directories across layers: the fate of each file of each layer.

A file in layer *i* is ``present`` in the final filesystem unless a later layer deletes it
(a ``.wh.NAME`` whiteout for it or a parent, or a ``.wh..wh..opq`` opaque marker in a parent)
or replaces it (the same path, or a parent turned into a non-directory). The first later
layer that does so decides: ``deleted`` in layer M or ``overwritten`` in layer M. Either way
the old content still ships in layer *i* and anyone who pulls the image can read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PRESENT, DELETED, OVERWRITTEN = "present", "deleted", "overwritten"


@dataclass(slots=True)
class LayerIndex:
    """What one layer does to the filesystem (paths only; built from tar headers)."""

    entries: set[str] = field(default_factory=set)  # every path the layer writes
    nondirs: set[str] = field(default_factory=set)  # paths written as files, links...
    whiteouts: set[str] = field(default_factory=set)  # paths the layer deletes
    opaques: set[str] = field(default_factory=set)  # directories the layer empties first

    def add(self, path: str, kind: str) -> None:
        if kind == "whiteout":
            self.whiteouts.add(path)
        elif kind == "opaque":
            self.opaques.add(path)
        else:
            self.entries.add(path)
            if kind != "dir":
                self.nondirs.add(path)


@dataclass(frozen=True, slots=True)
class FileState:
    state: str
    deleted_in_layer: int | None = None
    overwritten_in_layer: int | None = None


_PRESENT = FileState(PRESENT)


def _parents(path: str) -> list[str]:
    """``a/b/c`` -> ``["a/b", "a"]`` (paths are normalised: no empty parts)."""
    out = []
    cut = path.rfind("/")
    while cut > 0:
        path = path[:cut]
        out.append(path)
        cut = path.rfind("/")
    return out


def file_state(path: str, layer: int, layers: Sequence[LayerIndex]) -> FileState:
    """The fate of ``path`` written by layer number ``layer`` (0-based) of ``layers``."""
    if layer + 1 >= len(layers):
        return _PRESENT  # the top layer: nothing comes after it
    parents = _parents(path)
    for later in range(layer + 1, len(layers)):
        idx = layers[later]
        # set operations in C: this runs for every file of every layer
        if path in idx.whiteouts or not idx.whiteouts.isdisjoint(parents):
            return FileState(DELETED, deleted_in_layer=later)
        if not idx.opaques.isdisjoint(parents):
            if path in idx.entries:
                return FileState(OVERWRITTEN, overwritten_in_layer=later)
            return FileState(DELETED, deleted_in_layer=later)
        if path in idx.entries or not idx.nondirs.isdisjoint(parents):
            return FileState(OVERWRITTEN, overwritten_in_layer=later)
    return _PRESENT
