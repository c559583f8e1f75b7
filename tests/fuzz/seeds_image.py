"""A valid small image (OCI index, manifest, config, layers) the image and registry fuzz
targets damage one document at a time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.fuzz.seeds import COMPRESS, LAYER, SECRET_ENV

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_blobs(second: bytes | None = None) -> list[bytes]:
    """Layer 0: the secret's tar, gzip'd. Layer 1 (when given): any bytes at all."""
    return [COMPRESS["gzip"](LAYER)] + ([second] if second is not None else [])


def config_doc(layers: int) -> dict[str, Any]:
    return {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [f"GITHUB_TOKEN={SECRET_ENV}", "PATH=/bin"], "Labels": {"a": "b"}},
        # distinct ids: leakscan reads a layer listed twice (same diff_id) once, at its last place
        "rootfs": {"type": "layers", "diff_ids": [digest(LAYER + bytes(i)) for i in range(layers)]},
        "history": [{"created_by": f"COPY step {i} /"} for i in range(layers)],
    }


def manifest_doc(config: bytes, layers: list[bytes]) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest(blob),
                "size": len(blob),
            }
            for blob in layers
        ],
        "annotations": {"org.opencontainers.image.title": "fuzz"},
    }


def index_doc(manifest: bytes) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [
            {
                "mediaType": MANIFEST_TYPE,
                "digest": digest(manifest),
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": "amd64"},
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }


def write_layout(root: Path, index: bytes, blobs: list[bytes]) -> None:
    """An OCI layout: ``index.json`` and each blob under its own digest."""
    store = root / "blobs" / "sha256"
    store.mkdir(parents=True)
    for blob in blobs:
        (store / digest(blob).removeprefix("sha256:")).write_bytes(blob)
    (root / "index.json").write_bytes(index)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()
