"""``docker save`` archives, read in place: the classic layout and the OCI one.

Classic (Docker < 25): ``manifest.json`` lists each image's config (``<id>.json``) and layers
(``<id>/layer.tar``, duplicates linked). Newer Docker writes an OCI image layout
(``index.json``, ``blobs/sha256/…``) beside ``manifest.json``: it is read as OCI, which also
gives the manifest digest. ``docker-archive:PATH:NAME:TAG`` picks one image of an archive that
holds several; without a name every image in it is scanned.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from leakscan.sources.image.blobs import TarFiles, Verified, check_digest, load_json, read_json_blob
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage
from leakscan.sources.image.oci import OciStore, platform_matches, platform_of

CLASSIC_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def _normalise_tag(name: str) -> str:
    return name.removeprefix("docker.io/").removeprefix("library/")


def _tags(entry: dict[str, Any]) -> list[Any]:
    tags = entry.get("RepoTags")
    return tags if isinstance(tags, list) else []  # a map or a number: no tags


def classic_entries(manifest: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(manifest, list) or not all(isinstance(e, dict) for e in manifest):
        raise ImageError(f"{where}: manifest.json is not a list of images")
    return manifest


class DockerArchiveStore(ImageStore):
    def __init__(self, path: Path, reference: str, name: str | None = None) -> None:
        self.reference = reference
        self.name = reference
        self.select = name
        self.files = TarFiles(path)
        self._oci: OciStore | None = None
        self._paths: dict[str, str] = {}  # digest -> member path (classic)
        # (config digest, layer place) -> member path: two layers may declare one diff_id
        self._layer_paths: dict[tuple[str, int], str] = {}
        if self.files.exists("index.json") and self.files.exists("oci-layout"):
            self._oci = OciStore(self.files, reference, name)
        elif not self.files.exists("manifest.json"):
            raise ImageError(f"{path}: not a docker save archive (no manifest.json)")

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        if self._oci is not None:
            yield from self._oci.images(platform)
            return
        with self.files.open("manifest.json") as handle:
            raw = read_json_blob(handle, f"{self.name}: manifest.json")
        import json

        try:
            manifest = json.loads(raw)
        except (ValueError, RecursionError):
            raise ImageError(f"{self.name}: manifest.json is not valid JSON") from None
        entries = classic_entries(manifest, self.name)
        if self.select is not None:
            want = _normalise_tag(self.select)
            entries = [e for e in entries if want in {_normalise_tag(str(t)) for t in _tags(e)}]
            if not entries:
                raise ImageError(f"{self.name}: no image named {self.select!r} in the archive")
        for entry in entries:
            image = self._classic(entry)
            if platform_matches(image.platform, platform):
                yield image

    def _classic(self, entry: dict[str, Any]) -> ResolvedImage:
        config_path = str(entry.get("Config", ""))
        layers = entry.get("Layers")
        if not config_path or not isinstance(layers, list):
            raise ImageError(f"{self.name}: manifest.json entry lacks Config or Layers")
        with self.files.open(config_path) as handle:
            data = read_json_blob(handle, f"{self.name}: {config_path}")
        import hashlib

        config_digest = "sha256:" + hashlib.sha256(data).hexdigest()
        config = load_json(data, f"{self.name}: {config_path}")
        self._paths[config_digest] = config_path
        rootfs = config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list):
            diff_ids = []
        if len(diff_ids) != len(layers):
            raise ImageError(
                f"{self.name}: {len(layers)} layers in manifest.json but {len(diff_ids)} in config"
            )
        refs = []
        places = []
        for layer_path, diff_id in zip(layers, diff_ids, strict=True):
            check_digest(diff_id, self.name)
            layer_path = posixpath.normpath(str(layer_path))
            if layer_path.startswith("../") or not self.files.exists(layer_path):
                raise ImageError(f"{self.name}: layer {layer_path} is missing from the archive")
            self._paths[diff_id] = layer_path
            places.append(layer_path)
            refs.append(LayerRef(diff_id, CLASSIC_LAYER, self.files.size(layer_path), diff_id))
        for i, layer_path in enumerate(places):
            self._layer_paths[(config_digest, i)] = layer_path
        tags = _tags(entry)
        return ResolvedImage(
            reference=self.reference
            if len(tags) <= 1 or self.select
            else f"{self.reference} ({tags[0]})",
            manifest_digest=None,
            config_digest=config_digest,
            layers=tuple(refs),
            platform=platform_of(
                {
                    "os": config.get("os"),
                    "architecture": config.get("architecture"),
                    "variant": config.get("variant"),
                }
            ),
        )

    def open_blob(self, digest: str) -> IO[bytes]:
        if self._oci is not None:
            return self._oci.open_blob(digest)
        path = self._paths.get(digest)
        if path is None:
            raise ImageError(f"{self.name}: blob {digest} is missing")
        return Verified(self.files.open(path), digest, f"{self.name}: {path}")  # type: ignore[return-value]

    def open_layer(self, image: ResolvedImage, i: int) -> IO[bytes]:
        path = self._layer_paths.get((image.config_digest, i))
        if self._oci is not None or path is None:
            return super().open_layer(image, i)
        digest = image.layers[i].digest
        return Verified(self.files.open(path), digest, f"{self.name}: {path}")  # type: ignore[return-value]

    def close(self) -> None:
        self.files.close()
