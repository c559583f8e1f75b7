"""Where a file of an image layer lies, with the parts that depend on later layers worked out
late: when a finding is reported, not when the file is read.

An image is read in one pass, layer after layer. Whether a file of layer *i* is still
``present`` or was ``deleted``/``overwritten`` depends on the layers after *i*, and whether it
is an unmodified vendor file depends on package databases that may come later in the same
layer (dpkg's ``var/lib/dpkg/info`` after ``usr/``) or in another layer. So a location keeps
what it needs (its image, layer, path and the file's hashes) and makes its fields once the
whole image is known (:meth:`ImagePlaces.finish`), as git's places do
(:mod:`leakscan.sources.git.places`). Only the few locations that hold a finding are ever
read; the others cost one small object each.

Before the image is finished a location shows only the fields it knows (image, layer, path):
enough to tell two locations apart, which is all that is asked of it then.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Any

from leakscan.model import Provenance
from leakscan.sources.image.interface import ResolvedImage
from leakscan.sources.image.vendor import PackageDb
from leakscan.sources.image.whiteouts import LayerIndex, file_state
from leakscan.sources.lazy import LazyFields


class FileHashes:
    """One file's digests (``sha256`` and those its path's package records use), shared by its
    locations (an archive's members too) and its content-cache record. ``data`` is kept only
    until the image is finished, and only while a location of the file is alive (one that
    holds a finding): then the digests the image's package databases ask for are added."""

    __slots__ = ("__weakref__", "data", "hashes", "outer")

    def __init__(self, outer: str, hashes: dict[str, str], data: bytes | None = None) -> None:
        self.outer = outer  # the file's path in the layer (an archive, for its members)
        self.hashes = hashes
        self.data = data

    def settle(self, db: PackageDb) -> None:
        data = self.data
        if data is not None:
            self.data = None
            for algo in db.algorithms(self.outer) - self.hashes.keys():
                self.hashes[algo] = hashlib.new(algo, data).hexdigest()


class ImagePlaces:
    """What the locations of one image share: the image, what each layer deletes and
    replaces, the package databases; complete once :meth:`finish` is called."""

    def __init__(self, image: ResolvedImage, history: list[str | None]) -> None:
        self.image = image
        self.history = history
        self.indexes: list[LayerIndex] = [LayerIndex() for _ in image.layers]
        self.db = PackageDb()
        self.finished = False
        self._waiting: list[weakref.ref[FileHashes]] = []

    def hashes(self, outer: str, hashes: dict[str, str], data: bytes | None = None) -> FileHashes:
        """A file read in this pass: its data (once read) kept for the digests known only at
        the end."""
        held = FileHashes(outer, hashes, data)
        self._waiting.append(weakref.ref(held))
        return held

    def place(self, i: int, path: str, held: FileHashes | None) -> LayerProvenance:
        """The location of ``path`` in layer ``i`` (``held``: the file's digests; ``None`` for a
        file streamed, never taken for a vendor file)."""
        return LayerProvenance(LayerPlace(self, i, path, held))

    def finish(self) -> None:
        """Every layer is read: states and vendor marks are final; the files still referred to
        get the digests their package records ask for (their cache records with them)."""
        self.finished = True
        db = self.db
        for ref in self._waiting:
            held = ref()
            if held is not None:
                held.settle(db)
        self._waiting = []


class LayerPlace(LazyFields):
    """The fields of one file's location in an image layer, made when first read after the
    image is finished."""

    __slots__ = ("_fields", "_held", "_i", "_path", "_places")

    def __init__(self, places: ImagePlaces, i: int, path: str, held: FileHashes | None) -> None:
        self._places = places
        self._i = i
        self._path = path
        self._held = held
        self._fields: dict[str, Any] | None = None

    def _known(self) -> dict[str, Any]:
        places = self._places
        image = places.image
        i = self._i
        return {
            "image": image.reference,
            "image_digest": image.manifest_digest,
            "platform": image.platform,
            "layer_digest": image.layers[i].digest,
            "layer_index": i,
            "created_by": places.history[i],
            "path": self._path,
        }

    def _made(self) -> dict[str, Any]:
        if self._fields is not None:
            return self._fields
        fields = self._known()
        places = self._places
        if not places.finished:
            return fields
        outer = self._held.outer if self._held is not None else self._path.split("!", 1)[0]
        state = file_state(outer, self._i, places.indexes)
        fields["state"] = state.state
        fields["deleted_in_layer"] = state.deleted_in_layer
        fields["overwritten_in_layer"] = state.overwritten_in_layer
        self._fields = fields
        return fields

    def vendor(self) -> bool:
        """Whether a package database of the image vouches for the file (once finished)."""
        held = self._held
        if held is None or not self._places.finished:
            return False
        held.settle(self._places.db)
        return self._places.db.vouches(held.outer, held.hashes)


class LayerProvenance(Provenance):
    """An image-layer provenance whose ``vendor`` mark is worked out late (see the module)."""

    __slots__ = ()

    def __init__(self, place: LayerPlace) -> None:
        object.__setattr__(self, "kind", "image-layer")
        object.__setattr__(self, "fields", place)
        object.__setattr__(self, "line", None)

    @property
    def vendor(self) -> bool:
        fields = self.fields
        assert isinstance(fields, LayerPlace)
        return fields.vendor()
