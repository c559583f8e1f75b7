"""Where an image's manifests and blobs come from, whatever the transport.

Each transport (docker-archive, oci layout, oci-archive, docker daemon, registry) implements
:class:`ImageStore`: it resolves a reference into one :class:`ResolvedImage` per platform and
opens blobs (config, layers) by digest as streams. The image source turns a store into blobs
to scan (config fields, every file of every layer with its whiteout state), the same way for
every transport.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from leakscan.sources.interface import SourceError


class ImageError(SourceError):
    """An image could not be read (missing, corrupt, wrong digest, unknown media type)."""


@dataclass(frozen=True, slots=True)
class LayerRef:
    digest: str  # sha256:... of the blob as stored (compressed)
    media_type: str = ""
    size: int | None = None
    diff_id: str | None = None  # sha256 of the uncompressed tar, from the config


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    reference: str  # as the user named it (app:1.2, docker-archive:x.tar, registry/x:1)
    manifest_digest: str | None
    config_digest: str
    layers: tuple[LayerRef, ...]
    platform: str | None = None  # os/arch[/variant]
    annotations: dict[str, str] = field(default_factory=dict)


class ImageStore(ABC):
    """One image reference's manifests and blobs."""

    name: str = ""
    #: blobs come over the network (a registry): each layer is downloaded by itself
    remote: bool = False
    #: layers can only be read in the store's own order (a ``docker save`` stream): through
    #: :meth:`layer_streams`, not one by one with :meth:`open_blob`; its configuration, a
    #: member of that stream, is asked for after the layers (read on the way, not once more)
    sequential: bool = False

    @abstractmethod
    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        """One image per platform (only ``platform`` when given)."""

    @abstractmethod
    def open_blob(self, digest: str) -> IO[bytes]:
        """A stream of the blob's bytes as stored; the digest is verified as it is read."""

    def open_layer(self, image: ResolvedImage, i: int) -> IO[bytes]:
        """The stream of the image's ``i``-th layer (by its place: two layers may declare one
        digest)."""
        return self.open_blob(image.layers[i].digest)

    def layer_streams(
        self, image: ResolvedImage, wanted: Sequence[int], located: bool = False
    ) -> Iterator[tuple[Callable[[], int], IO[bytes]]]:
        """(locate, stream) of the wanted layers in the store's order (``sequential`` stores
        only); ``located``: each layer's index is known before its stream is read."""
        raise NotImplementedError(f"{type(self).__name__} reads layers one by one (open_blob)")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files, connections, temporary state."""
