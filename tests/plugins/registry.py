"""A real registry (Debian's docker-registry) on loopback, and images built without a daemon.

``registry_server`` (open) and ``registry_htpasswd`` (Basic auth, user ``user`` / ``pass``) are
started once per session. ``build_oci`` writes an OCI layout from Python dicts of files;
``skopeo_push`` copies it into a registry; ``api_push`` uploads blobs and manifests through the
distribution API directly (fast, for many tags).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import require

REGISTRY_BIN = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = free_port()
    root = tmp / f"{name}-storage"
    root.mkdir(parents=True)
    config = (
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    if htpasswd is not None:
        config += f"auth:\n  htpasswd:\n    realm: test-realm\n    path: {htpasswd}\n"
    cfg = tmp / f"{name}.yml"
    cfg.write_text(config)
    log = open(tmp / f"{name}.log", "wb")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None:
                pytest.fail(f"docker-registry exited: {(tmp / f'{name}.log').read_text()}")
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("docker-registry did not start")
    return Registry(f"127.0.0.1:{port}", root, proc)


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
        reg.proc.terminate()
        reg.proc.wait(10)


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


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    manifest: bytes
    config: bytes
    layers: list[bytes]  # gzip'd blobs

    @property
    def digest(self) -> str:
        return _sha(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [_sha(b) for b in self.layers]


def make_image(layers: list[dict[str, bytes | None]], env: list[str] | None = None) -> Image:
    tars = [_tar_layer(files) for files in layers]
    blobs = [gzip.compress(t, mtime=0) for t in tars]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": env or ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha(t) for t in tars]},
            "history": [{"created_by": f"COPY layer{i} /"} for i in range(len(tars))],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _sha(b),
                    "size": len(b),
                }
                for b in blobs
            ],
        },
        sort_keys=True,
    ).encode()
    return Image(manifest, config, blobs)


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
    for data in [image.config, *image.layers]:
        digest = _sha(data)
        if session.head(f"{reg.url}/v2/{name}/blobs/{digest}").status_code == 200:
            continue
        start = session.post(f"{reg.url}/v2/{name}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = reg.url + location
        sep = "&" if "?" in location else "?"
        done = session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
    put = session.put(
        f"{reg.url}/v2/{name}/manifests/{tag}",
        data=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert put.status_code == 201, put.text


def blob_path(reg: Registry, digest: str) -> Path:
    hexd = digest.split(":")[1]
    return reg.root / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"
