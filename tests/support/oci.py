"""OCI images built in Python and a loopback docker-registry: shared by the tests and the
registry benchmark (no pytest here; the test plugin wraps these in fixtures)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REGISTRY_BIN = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Image:
    manifest: bytes
    config: bytes
    layers: list[bytes]  # gzip'd blobs

    @property
    def digest(self) -> str:
        return sha(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [sha(b) for b in self.layers]


def oci_image(
    layers: list[tuple[str, bytes]], env: list[str], history: list[str] | None = None
) -> Image:
    """An image from (diff id, gzip'd blob) layers: its config and OCI manifest."""
    cfg: dict[str, object] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env},
        "rootfs": {"type": "layers", "diff_ids": [diff_id for diff_id, _ in layers]},
    }
    if history is not None:
        cfg["history"] = [{"created_by": line} for line in history]
    config = json.dumps(cfg, sort_keys=True).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": sha(gz), "size": len(gz)}
                for _, gz in layers
            ],
        },
        sort_keys=True,
    ).encode()
    return Image(manifest, config, [gz for _, gz in layers])


def push(session: requests.Session, url: str, name: str, tag: str, image: Image) -> None:
    """Upload blobs (skipping those present) and the manifest through the registry API."""

    def expect(resp: requests.Response, status: int) -> None:
        if resp.status_code != status:
            raise RuntimeError(f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}")

    for data in [image.config, *image.layers]:
        digest = sha(data)
        if session.head(f"{url}/v2/{name}/blobs/{digest}").status_code == 200:
            continue
        start = session.post(f"{url}/v2/{name}/blobs/uploads/")
        expect(start, 202)
        location = start.headers["Location"]
        if location.startswith("/"):
            location = url + location
        sep = "&" if "?" in location else "?"
        expect(
            session.put(
                f"{location}{sep}digest={digest}",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            ),
            201,
        )
    expect(
        session.put(
            f"{url}/v2/{name}/manifests/{tag}",
            data=image.manifest,
            headers={"Content-Type": OCI_MANIFEST},
        ),
        201,
    )


def start_registry(
    tmp: Path, name: str, auth_config: str = ""
) -> tuple[str, Path, subprocess.Popen[bytes]]:
    """Debian's docker-registry on a free loopback port: (host:port, storage root, process).
    Raises RuntimeError when it does not start; stop it with :func:`stop_registry`."""
    port = free_port()
    root = tmp / f"{name}-storage"
    root.mkdir(parents=True)
    cfg = tmp / f"{name}.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth_config
    )
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=log)
    deadline = time.monotonic() + 15
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return f"127.0.0.1:{port}", root, proc
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_registry(proc)
                raise RuntimeError(
                    f"docker-registry did not start: {log_path.read_text()[-500:]}"
                ) from None
            time.sleep(0.1)


def stop_registry(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
