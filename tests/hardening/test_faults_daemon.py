"""A Docker daemon that goes away mid-save.

The session dockerd is shared, so a fake Docker API on a unix socket stands in for it: it
answers ``/_ping``, ``/version`` and the image inspect, then sends part of ``docker save``'s
tar and closes. ``leakscan scan image docker-daemon:NAME:TAG`` must report one clear error
line and exit 2, with no traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socketserver
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _save_archive(secret: str) -> tuple[bytes, dict[str, object]]:
    """A docker save archive (two layers, the second big) and the inspect answer."""
    layer1 = _tar({"app/config.txt": f"token = {secret}\n".encode()})
    layer2 = _tar({"app/big.bin": os.urandom(512 * 1024)})
    diff_ids = ["sha256:" + _sha(layer1), "sha256:" + _sha(layer2)]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()
    cid = _sha(config)
    manifest = json.dumps(
        [
            {
                "Config": f"{cid}.json",
                "RepoTags": ["fake/app:1"],
                "Layers": ["l1/layer.tar", "l2/layer.tar"],
            }
        ]
    ).encode()
    archive = _tar(
        {
            "l1/layer.tar": layer1,
            "l2/layer.tar": layer2,
            f"{cid}.json": config,
            "manifest.json": manifest,
        }
    )
    inspect = {
        "Id": f"sha256:{cid}",
        "RepoTags": ["fake/app:1"],
        "RepoDigests": [],
        "Os": "linux",
        "Architecture": "amd64",
        "RootFS": {"Type": "layers", "Layers": diff_ids},
    }
    return archive, inspect


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    archive: bytes = b""
    inspect: dict[str, object]
    cut_at: int = 0
    declare_length: bool = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def address_string(self) -> str:  # a unix socket has no client address
        return "fake-docker"

    def _json(self, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            body = b"OK"
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(body)
        elif path.endswith("/version"):
            self._json(
                {
                    "ApiVersion": "1.41",
                    "MinAPIVersion": "1.12",
                    "Version": "24.0.0",
                    "Os": "linux",
                    "Arch": "amd64",
                }
            )
        elif path.endswith("/json") and "/images/" in path:
            self._json(self.server.inspect)
        elif path.endswith("/get") and "/images/" in path:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-tar")
            if self.server.declare_length:
                self.send_header("Content-Length", str(len(self.server.archive)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(self.server.archive[: self.server.cut_at])
            self.wfile.flush()
            self.close_connection = True  # the daemon goes away mid-save
        else:
            self.send_error(404)


@pytest.fixture
def fake_daemon(tmp_path: Path) -> Iterator[_Server]:
    sock = tmp_path / "docker.sock"
    server = _Server(str(sock), _Handler)
    server.archive, server.inspect = _save_archive(ghp_token())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("declare_length", [True, False], ids=["short-body", "eof"])
def test_daemon_gone_mid_save(fake_daemon: _Server, tmp_path: Path, declare_length: bool) -> None:
    fake_daemon.declare_length = declare_length
    fake_daemon.cut_at = len(fake_daemon.archive) // 2  # inside the big second layer
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "scan",
            "image",
            "docker-daemon:fake/app:1",
            "--format",
            "json",
            "--no-progress",
            "--rules",
            str(write_rules(tmp_path / "rules")),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("leakscan: error:")]
    assert len(errors) == 1, proc.stderr
    assert "docker save" in errors[0] or "truncated" in errors[0], errors
    assert "fake/app:1" in errors[0], errors
    assert not errors[0].startswith("leakscan: error: unexpected "), errors  # not a crash
    doc = json.loads(proc.stdout)
    assert len(doc["errors"]) == 1 and "\n" not in doc["errors"][0], doc["errors"]
