"""Images straight from a registry (OCI distribution API v2), as an :class:`ImageStore`.

``registry.example.com/team/app:1.4``, ``docker://…``, ``…@sha256:…``. Docker v2 schema 2
and OCI manifests, manifest lists and OCI indexes (every platform, or the one asked for).
Blobs are streamed with their sha256 verified as they are read.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from leakscan.sources.image.blobs import load_json
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage
from leakscan.sources.image.readahead import Prefetched
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.auth import DOCKER_HUB, RegistryAuth
from leakscan.sources.registry.client import Manifest, RegistryClient

log = logging.getLogger(__name__)

__all__ = ["ImageName", "RegistryStore", "image_manifests", "parse_name"]

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
IMAGE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_CONFIG_BYTES = 8 * 1024 * 1024
#: a blob is downloaded ahead by a thread of its own in pieces of this size, at most
#: DOWNLOAD_DEPTH of them waiting (16 MiB), while the layer's thread inflates
DOWNLOAD_PIECE = 1 << 20
DOWNLOAD_DEPTH = 16


@dataclass(frozen=True, slots=True)
class ImageName:
    registry: str
    repository: str
    reference: str  # a tag or a sha256:… digest

    def __str__(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.registry}/{self.repository}{sep}{self.reference}"


def parse_name(reference: str) -> ImageName:
    """``[docker://]host[:port]/repo[:tag|@digest]`` (Docker Hub when no host is named)."""
    ref = reference.removeprefix("docker://")
    if not ref or any(c.isspace() for c in ref):
        raise ImageError(f"{reference!r}: not an image reference")
    digest = ""
    if "@" in ref:
        ref, _, digest = ref.rpartition("@")
        if "@" in ref or not re.fullmatch(
            r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}", digest
        ):
            # not name@digest: perhaps user:password@host/..., which is never echoed
            raise ImageError(
                "not an image reference: '@' must be followed by a digest (sha256:…); "
                "registry credentials go in --username/--password-stdin or docker login"
            )
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, ref
        if "/" not in path:
            path = "library/" + path
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, _, tag = path.rpartition(":")
    if not path or path != path.lower():
        raise ImageError(f"{reference!r}: invalid repository name")
    return ImageName(registry, path, digest or tag or "latest")


def _platform(entry: dict[str, Any]) -> str | None:
    p = entry.get("platform")
    if not isinstance(p, dict) or not p.get("os"):
        return None
    text = f"{p.get('os')}/{p.get('architecture')}"
    return f"{text}/{p['variant']}" if p.get("variant") else text


def _platform_matches(found: str | None, wanted: str | None) -> bool:
    if not wanted:
        return True
    if found is None:
        return False
    f, w = found.split("/"), wanted.split("/")
    return f[: len(w)] == w


def _load(manifest: Manifest, where: str) -> dict[str, Any]:
    return load_json(manifest.data, f"{where}: the manifest")


def image_manifests(
    client: RegistryClient, repo: str, ref: str, platform: str | None = None
) -> Iterator[tuple[str | None, Manifest, dict[str, Any]]]:
    """(platform, manifest, parsed) of each image a tag or digest names (indexes followed)."""
    where = f"{client.host}/{repo}:{ref}"
    top = client.manifest(repo, ref)
    doc = _load(top, where)
    media = doc.get("mediaType") or top.media_type
    if doc.get("schemaVersion") == 1:
        raise ImageError(f"{where}: Docker schema 1 manifests are not supported")
    if media in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise ImageError(f"{where}: index without a manifests list")
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("digest"):
                continue
            annotations = entry.get("annotations")
            if (
                isinstance(annotations, dict)
                and annotations.get("vnd.docker.reference.type") == "attestation-manifest"
            ):
                continue
            plat = _platform(entry)
            if plat == "unknown/unknown" or not _platform_matches(plat, platform):
                continue
            child = client.manifest(repo, str(entry["digest"]))
            child_doc = _load(child, f"{client.host}/{repo}@{entry['digest']}")
            if "layers" not in child_doc:
                continue  # nested index or artifact: not an image
            yield plat, child, child_doc
        return
    if "layers" not in doc or "config" not in doc:
        raise ImageError(f"{where}: unknown manifest type {media!r}")
    yield None, top, doc


def _layers(doc: dict[str, Any], where: str) -> tuple[LayerRef, ...]:
    out = []
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        raise ImageError(f"{where}: malformed layer list")
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("digest"), str):
            raise ImageError(f"{where}: malformed layer entry")
        size = layer.get("size")
        out.append(
            LayerRef(
                layer["digest"],
                str(layer.get("mediaType", "")),
                size if isinstance(size, int) else None,
            )
        )
    return tuple(out)


class RegistryStore(ImageStore):
    """One image reference in a registry."""

    remote = True

    def __init__(
        self,
        reference: str,
        options: SourceOptions,
        auth: RegistryAuth | None = None,
        insecure: bool = False,
        client: RegistryClient | None = None,
    ) -> None:
        self.reference = reference
        self.image = parse_name(reference)
        self.name = str(self.image)
        self.options = options
        # like docker: loopback registries may speak plain HTTP (the client allows it);
        # others need insecure=True (the CLI's --insecure or LEAKSCAN_REGISTRY_INSECURE=1)
        self.client = client or RegistryClient(
            self.image.registry, auth, insecure=insecure, timeout=options.registry_timeout
        )
        self._configs: dict[str, bytes] = {}
        self._sizes: dict[str, int] = {}  # blob digest -> the size its manifest declares

    def __repr__(self) -> str:
        return f"RegistryStore({self.name!r})"

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        repo = self.image.repository
        wanted = platform or self.options.platform
        found = False
        for plat, manifest, doc in image_manifests(self.client, repo, self.image.reference, wanted):
            found = True
            where = f"{self.name}@{manifest.digest}"
            config = doc.get("config") or {}
            config_digest = config.get("digest") if isinstance(config, dict) else None
            if not isinstance(config_digest, str):
                raise ImageError(f"{where}: manifest without a config digest")
            layers = _layers(doc, where)
            self._sizes.update((ref.digest, ref.size) for ref in layers if ref.size is not None)
            config_size = config.get("size") if isinstance(config, dict) else None
            if isinstance(config_size, int) and config_size >= 0:
                self._sizes[config_digest] = config_size
            config_data = self._config(config_digest)
            cfg: dict[str, Any] = {}
            try:
                cfg = json.loads(config_data)
            except (ValueError, UnicodeDecodeError, RecursionError):
                cfg = {}
            rootfs = cfg.get("rootfs") if isinstance(cfg, dict) else None
            diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
            if isinstance(diff_ids, list) and len(diff_ids) == len(layers):
                layers = tuple(
                    LayerRef(ref.digest, ref.media_type, ref.size, str(d))
                    for ref, d in zip(layers, diff_ids, strict=True)
                )
            if plat is None and isinstance(cfg, dict) and cfg.get("os"):
                plat = f"{cfg.get('os')}/{cfg.get('architecture')}"
                if cfg.get("variant"):
                    plat += f"/{cfg['variant']}"
            annotations = doc.get("annotations")
            yield ResolvedImage(
                self.reference,
                manifest.digest,
                config_digest,
                layers,
                plat,
                {str(k): str(v) for k, v in annotations.items()}
                if isinstance(annotations, dict)
                else {},
            )
        if not found:
            raise ImageError(f"{self.name}: no image for platform {wanted}")

    def _config(self, digest: str) -> bytes:
        if digest not in self._configs:
            raw = self.client.blob(self.image.repository, digest, self._sizes.get(digest))
            with io.BufferedReader(raw, buffer_size=1 << 16) as stream:
                data = stream.read(MAX_CONFIG_BYTES + 1)
                if len(data) > MAX_CONFIG_BYTES:
                    raise ImageError(
                        f"{self.name}: image configuration larger than {MAX_CONFIG_BYTES} bytes"
                    )
                while stream.read(1 << 16):  # reach the end: the digest is checked there
                    pass
            self._configs[digest] = data
        return self._configs[digest]

    def open_blob(self, digest: str) -> IO[bytes]:
        if digest in self._configs:
            return io.BytesIO(self._configs[digest])
        # bounded by the size the manifest declares: a longer body fails that layer
        raw = self.client.blob(self.image.repository, digest, self._sizes.get(digest))
        stream = io.BufferedReader(raw, buffer_size=DOWNLOAD_PIECE)  # whole pieces
        ahead = Prefetched(stream, DOWNLOAD_PIECE, DOWNLOAD_DEPTH, "leakscan-blob-download")
        return cast(IO[bytes], ahead)

    def close(self) -> None:
        self.client.close()
