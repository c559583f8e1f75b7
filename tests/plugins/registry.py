"""A real registry (Debian's docker-registry) on loopback, and images built without a daemon.

``registry_server`` (open) and ``registry_htpasswd`` (Basic auth, user ``user`` / ``pass``) are
started once per session. ``build_oci`` writes an OCI layout from Python dicts of files;
``skopeo_push`` copies it into a registry; ``api_push`` uploads blobs and manifests through the
distribution API directly (fast, for many tags).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import require
from tests.support.oci import (
    OCI_MANIFEST,
    REGISTRY_BIN,
    Image,
    free_port,
    oci_image,
    push,
    start_registry,
    stop_registry,
)
from tests.support.oci import sha as _sha

__all__ = ["OCI_MANIFEST", "REGISTRY_BIN", "Image", "free_port"]  # re-exported for tests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    root: Path  # filesystem storage root
    proc: subprocess.Popen[bytes]
    creds: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def _start(tmp: Path, name: str, htpasswd: Path | None = None) -> Registry:
    require(Path(REGISTRY_BIN).exists(), "docker-registry is not installed")
    auth = f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n" if htpasswd else ""
    try:
        host, root, proc = start_registry(tmp, name, auth)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return Registry(host, root, proc)


@contextlib.contextmanager
def running_registry(tmp: Path, htpasswd: bool = False) -> Iterator[Registry]:
    """A docker-registry on a free loopback port (with Basic auth user/pass when asked),
    stopped on exit."""
    if htpasswd:
        require(shutil.which("htpasswd") is not None, "htpasswd (apache2-utils) is not installed")
        line = subprocess.run(
            ["htpasswd", "-Bbn", "user", "pass"], capture_output=True, check=True
        ).stdout
        (tmp / "htpasswd").write_bytes(line.strip() + b"\n")
        reg = _start(tmp, "htpasswd", tmp / "htpasswd")
        reg.creds = ("user", "pass")
    else:
        reg = _start(tmp, "open")
    try:
        yield reg
    finally:
        stop_registry(reg.proc)


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry-auth"), htpasswd=True) as reg:
        yield reg


# -- images built in Python ---------------------------------------------------------------


def _tar_layer(files: dict[str, bytes | None]) -> bytes:
    """A tar (None = a whiteout for that path), deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            if data is None:
                head, _, base = path.rpartition("/")
                path, data = (f"{head}/" if head else "") + ".wh." + base, b""
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_image(layers: list[dict[str, bytes | None]], env: list[str] | None = None) -> Image:
    tars = [_tar_layer(files) for files in layers]
    return oci_image(
        [(_sha(t), gzip.compress(t, mtime=0)) for t in tars],
        env or ["PATH=/usr/bin"],
        [f"COPY layer{i} /" for i in range(len(tars))],
    )


def build_oci(directory: Path, image: Image, tag: str = "latest") -> Path:
    """Write an OCI image layout holding one image under ``tag``."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in [image.manifest, image.config, *image.layers]:
        (blobs / _sha(data).split(":")[1]).write_bytes(data)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": image.digest,
                        "size": len(image.manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return directory


def skopeo_push(layout: Path, tag: str, reg: Registry, name: str) -> None:
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    cmd = [
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        f"oci:{layout}:{tag}",
        f"docker://{reg.host}/{name}:{tag}",
    ]
    if reg.creds:
        cmd[3:3] = ["--dest-creds", ":".join(reg.creds)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def api_push(reg: Registry, name: str, tag: str, image: Image) -> None:
    """Upload blobs (skipping those present) and the manifest through the API."""
    session = requests.Session()
    if reg.creds:
        session.auth = reg.creds
    push(session, reg.url, name, tag, image)


def blob_path(reg: Registry, digest: str) -> Path:
    hexd = digest.split(":")[1]
    return reg.root / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"
