"""Test helpers: random planted tokens, a tests-own rule folder, running the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import github_token

RULE_ID = "test.image.ghp"


def token(rng: random.Random | None = None) -> str:
    """A GitHub-classic-shaped token with a valid checksum (random; never a real one)."""
    return github_token(rng=rng)


def write_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    example = token()
    (folder / "image_test.yaml").write_text(
        "rules:\n"
        f"  - id: {RULE_ID}\n"
        "    name: Test GitHub token\n"
        "    pattern: '(ghp_[A-Za-z0-9]{36})'\n"
        "    keywords: [ghp_]\n"
        "    confidence: high\n"
        "    severity: high\n"
        "    examples:\n"
        f"      - text: 'token = {example}'\n"
        f"        secret: '{example}'\n"
        "    negative_examples:\n"
        "      - 'token = ghp_short'\n",
        encoding="utf-8",
    )
    return folder


def run_cli(args: list[str], stdin: str | None = None) -> tuple[int, dict[str, Any] | None, str]:
    """Run leakscan; returns (exit code, parsed JSON report or None, stderr)."""
    runner = CliRunner()
    result = runner.invoke(app, args, input=stdin, catch_exceptions=False)
    try:
        doc = json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        doc = None
    return result.exit_code, doc, result.stderr


def by_secret(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Findings of the tests' rule, keyed by secret (needs --show-secrets)."""
    return {f["secret"]: f for f in doc["findings"] if f["rule_id"] == RULE_ID}


# -- synthesized OCI layouts (no docker needed) ------------------------------------------------


def tar_bytes(members: list[tuple[str, bytes | None]]) -> bytes:
    """A tar of (name, content) members; content None makes a directory."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        import gzip

        return gzip.compress(data, mtime=0)
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


LAYER_MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def write_oci_layout(
    root: Path,
    layers: list[tuple[bytes, str]],
    config_extra: dict[str, Any] | None = None,
    tag: str = "v1",
    history: list[dict[str, Any]] | None = None,
    layer_media: list[str] | None = None,
    manifest_media: str | None = None,
) -> dict[str, Any]:
    """Write an OCI layout with the given (uncompressed tar, compression) layers.

    Returns digests: {"manifest": ..., "config": ..., "layers": [...], "diff_ids": [...]}.
    """
    import hashlib

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        hexd = hashlib.sha256(data).hexdigest()
        (blobs / hexd).write_bytes(data)
        return "sha256:" + hexd

    # a layer listed many times (the same bytes object) is hashed, compressed and written once
    done: dict[tuple[int, str], tuple[str, str, int]] = {}
    diff_ids, descs = [], []
    for i, (raw, how) in enumerate(layers):
        if (id(raw), how) not in done:
            blob = compress(raw, how)
            diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
            done[id(raw), how] = (diff_id, put(blob), len(blob))
        diff_id, digest, size = done[id(raw), how]
        diff_ids.append(diff_id)
        media = layer_media[i] if layer_media else LAYER_MEDIA[how]
        descs.append({"mediaType": media, "digest": digest, "size": size})
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history or [{"created_by": f"step {i}"} for i in range(len(layers))],
    }
    config.update(config_extra or {})
    cfg = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": manifest_media or "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": put(cfg),
            "size": len(cfg),
        },
        "layers": descs,
    }
    mdata = json.dumps(manifest).encode()
    mdigest = put(mdata)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest_media or "application/vnd.oci.image.manifest.v1+json",
                "digest": mdigest,
                "size": len(mdata),
                "annotations": {"org.opencontainers.image.ref.name": tag},
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return {
        "manifest": mdigest,
        "config": manifest["config"]["digest"],
        "layers": [d["digest"] for d in descs],
        "diff_ids": diff_ids,
    }


def tar_dir(src: Path, dest: Path, extra: dict[str, bytes] | None = None) -> Path:
    """Tar a directory's contents (an OCI layout) into an archive, plus extra members."""
    import io
    import tarfile

    with tarfile.open(dest, "w") as tar:
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(src)), recursive=False)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest
