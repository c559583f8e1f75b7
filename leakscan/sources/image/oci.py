"""OCI image layouts (a directory or a tar archive): index → manifests → platforms.

Also reads the OCI layout that newer ``docker save`` writes. A tag (``oci:DIR:TAG``) selects
the index entries whose ``org.opencontainers.image.ref.name`` (or containerd image name) is
that tag; without one, every image of the layout is scanned. Nested indexes are followed;
attestation manifests (buildx provenance/SBOM) are not images and are left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO, Any

from leakscan.sources.image.blobs import (
    BlobFiles,
    Verified,
    blob_path,
    check_digest,
    load_json,
    read_json_blob,
)
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = {OCI_INDEX, DOCKER_LIST}
MANIFEST_TYPES = {OCI_MANIFEST, DOCKER_MANIFEST}

LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


def platform_of(p: Any) -> str | None:
    if not isinstance(p, dict) or not p.get("os") or not p.get("architecture"):
        return None
    out = f"{p['os']}/{p['architecture']}"
    return out + f"/{p['variant']}" if p.get("variant") else out


def platform_matches(have: str | None, want: str | None) -> bool:
    if want is None or have is None:
        return True
    h, w = have.split("/"), want.split("/")
    return h[: len(w)] == w if len(w) >= 2 else h[0] == w[0]


def _dict(value: Any) -> dict[str, Any]:
    """A JSON object field, or {} when the document holds something else there."""
    return value if isinstance(value, dict) else {}


def _size(value: Any) -> int | None:
    """A descriptor's size when it is a non-negative integer (else unknown)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def tag_matches(annotations: dict[str, str], tag: str) -> bool:
    ref = str(_dict(annotations).get(REF_NAME, ""))
    name = str(_dict(annotations).get(CONTAINERD_NAME, ""))
    return tag in (ref, name) or name.endswith(f":{tag}") or name.endswith(f"/{tag}")


class OciStore(ImageStore):
    """An OCI image layout read through :class:`BlobFiles` (directory or archive)."""

    def __init__(self, files: BlobFiles, reference: str, tag: str | None = None) -> None:
        self.files = files
        self.reference = reference
        self.tag = tag
        self.name = reference

    def _json(self, rel: str) -> dict[str, Any]:
        with self.files.open(rel) as handle:
            return load_json(read_json_blob(handle, f"{self.name}: {rel}"), f"{self.name}: {rel}")

    def _blob_json(self, digest: str, size: int | None = None) -> dict[str, Any]:
        where = f"{self.name}: blob {digest}"
        stream = self.open_blob(digest, size)
        try:
            data = read_json_blob(stream, where)
            stream.read()  # end of blob: digest check
        finally:
            stream.close()
        return load_json(data, where)

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        if not self.files.exists("index.json"):
            raise ImageError(f"{self.name}: not an OCI image layout (no index.json)")
        index = self._json("index.json")
        descriptors = index.get("manifests")
        if not isinstance(descriptors, list):
            raise ImageError(f"{self.name}: index.json has no manifests list")
        if self.tag is not None:
            descriptors = [
                d
                for d in descriptors
                if isinstance(d, dict) and tag_matches(d.get("annotations") or {}, self.tag)
            ]
            if not descriptors:
                raise ImageError(f"{self.name}: no image tagged {self.tag!r} in the layout")
        found = False
        for desc in descriptors:
            for image in self._descriptor(desc, platform, depth=0):
                found = True
                yield image
        if not found and platform is not None:
            raise ImageError(f"{self.name}: no image for platform {platform}")

    def _descriptor(
        self,
        desc: Any,
        platform: str | None,
        depth: int,
        plat: str | None = None,
    ) -> Iterator[ResolvedImage]:
        if not isinstance(desc, dict) or "digest" not in desc:
            raise ImageError(f"{self.name}: malformed descriptor in an index")
        annotations = _dict(desc.get("annotations"))
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            return
        plat = platform_of(desc.get("platform")) or plat
        if plat == "unknown/unknown":
            return
        if not platform_matches(plat, platform):
            return
        digest = desc["digest"]
        check_digest(digest, self.name)
        doc = self._blob_json(digest, _size(desc.get("size")))
        media = str(
            desc.get("mediaType")
            or doc.get("mediaType")
            or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "layers" in doc else "")
        )
        if media in INDEX_TYPES:
            if depth > 4:
                raise ImageError(f"{self.name}: indexes nested too deep")
            subs = doc.get("manifests")
            for sub in subs if isinstance(subs, list) else []:
                yield from self._descriptor(sub, platform, depth + 1, plat)
            return
        if media not in MANIFEST_TYPES:
            raise ImageError(f"{self.name}: unknown manifest media type {str(media)[:100]!r}")
        image = self._manifest(doc, digest, plat, platform, annotations)
        if platform_matches(image.platform, platform):  # the config tells when the index did not
            yield image

    def _manifest(
        self,
        doc: dict[str, Any],
        digest: str,
        plat: str | None,
        want: str | None,
        annotations: dict[str, str],
    ) -> ResolvedImage:
        config = doc.get("config")
        layers = doc.get("layers")
        if not isinstance(config, dict) or not isinstance(layers, list):
            raise ImageError(f"{self.name}: manifest {digest} lacks config or layers")
        check_digest(config.get("digest", ""), self.name)
        cfg = self._blob_json(config["digest"], _size(config.get("size")))
        plat = plat or platform_of(
            {
                "os": cfg.get("os"),
                "architecture": cfg.get("architecture"),
                "variant": cfg.get("variant"),
            }
        )
        diff_ids = _dict(cfg.get("rootfs")).get("diff_ids") or []
        if not isinstance(diff_ids, list):
            diff_ids = []
        refs = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, dict):
                raise ImageError(f"{self.name}: manifest {digest}: malformed layer descriptor")
            check_digest(layer.get("digest", ""), self.name)
            refs.append(
                LayerRef(
                    digest=layer["digest"],
                    media_type=str(layer.get("mediaType", "")),
                    size=_size(layer.get("size")),
                    diff_id=str(diff_ids[i])
                    if i < len(diff_ids) and len(diff_ids) == len(layers)
                    else None,
                )
            )
        notes = {
            str(k): str(v) for k, v in {**annotations, **_dict(doc.get("annotations"))}.items()
        }
        return ResolvedImage(
            reference=self.reference,
            manifest_digest=digest,
            config_digest=config["digest"],
            layers=tuple(refs),
            platform=plat,
            annotations=notes,
        )

    def open_blob(self, digest: str, size: int | None = None) -> IO[bytes]:
        rel = blob_path(digest, self.name)
        where = f"{self.name}: blob {digest}"
        if not self.files.exists(rel):
            raise ImageError(f"{where} is missing")
        return Verified(self.files.open(rel), digest, where, size)  # type: ignore[return-value]

    def close(self) -> None:
        self.files.close()
