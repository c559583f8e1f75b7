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


#: values of the wrong type for any key (the usual crash: ``.get`` on a list, a loop over an
#: int), beside arbitrary JSON
WRONG_TYPES = [1, 0, -1, 1.5, True, "x", "", None, [], [1], ["x", 2], {}, {"a": 1}, {"a": [1]}]

#: the keys leakscan reads in each document: a fuzz target replaces one of them (with any
#: JSON value) far more often than a random walk down the tree would
KEY_PATHS: dict[str, list[tuple[Any, ...]]] = {
    "index": [
        ("manifests",), ("manifests", 0), ("manifests", 0, "annotations"),
        ("manifests", 0, "platform"), ("manifests", 0, "platform", "os"),
        ("manifests", 0, "digest"), ("manifests", 0, "mediaType"), ("mediaType",),
        ("schemaVersion",),
    ],
    "manifest": [
        ("config",), ("config", "digest"), ("config", "size"), ("layers",), ("layers", 0),
        ("layers", 0, "digest"), ("layers", 0, "size"), ("layers", 0, "mediaType"),
        ("annotations",), ("mediaType",), ("schemaVersion",),
    ],
    "config": [
        ("config",), ("config", "Env"), ("config", "Env", 0), ("config", "Labels"),
        ("config", "Cmd"), ("config", "Entrypoint"), ("config", "User"), ("rootfs",),
        ("rootfs", "diff_ids"), ("rootfs", "diff_ids", 0), ("history",), ("history", 0),
        ("history", 0, "created_by"), ("os",), ("architecture",), ("variant",),
    ],
}  # fmt: skip


def set_key(doc: Any, keys: tuple[Any, ...], value: Any) -> Any:
    """``doc`` with the node at ``keys`` replaced by ``value`` (added if missing)."""
    node = doc
    for key in keys[:-1]:
        node = node[key]
    if isinstance(node, list) and isinstance(keys[-1], int) and keys[-1] >= len(node):
        node.append(value)
    else:
        node[keys[-1]] = value
    return doc
