"""Manifests, their HEADs and tag lists go over kept-alive ``http.client`` connections, and
answer as through requests: redirects, encoded bodies, idle connections the server closed,
proxies."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests

from leakscan.sources.registry.client import RegistryClient
from leakscan.sources.registry.fast import FastTransport

MANIFEST = json.dumps({"schemaVersion": 2, "layers": []}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OCI = "application/vnd.oci.image.manifest.v1+json"


class _Registry(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []
    drop_after_answer: ClassVar[bool] = False  # close idle connections without saying so

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(self.client_address[1])

    def _answer(self, body: bytes, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        headers: dict[str, str] = {}
        if path.endswith("/tags/list"):
            body = json.dumps({"name": "r", "tags": ["a", "b"]}).encode()
            headers["Content-Type"] = "application/json"
        elif path == "/v2/moved/manifests/t":
            self.send_response(307)
            self.send_header("Location", "/v2/r/manifests/t")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            headers = {"Content-Type": OCI, "Docker-Content-Digest": DIGEST}
            if path == "/v2/r/manifests/gz":
                body = gzip.compress(body)  # whatever the client accepts
                headers["Content-Encoding"] = "gzip"
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)
        if type(self).drop_after_answer:
            self.close_connection = True

    def do_GET(self) -> None:
        self._answer(MANIFEST, True)

    def do_HEAD(self) -> None:
        self._answer(MANIFEST, False)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def registry() -> Iterator[str]:
    _Registry.connections = []
    _Registry.drop_after_answer = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_manifests_heads_and_lists_share_one_kept_alive_connection(registry: str) -> None:
    client = RegistryClient(f"http://{registry}", insecure=True, retries=0)
    try:
        for _ in range(20):
            assert client.head_manifest("r", "t") == DIGEST
            m = client.manifest("r", "t")
            assert (m.data, m.digest, m.media_type) == (MANIFEST, DIGEST, OCI)
            assert list(client.tags("r")) == ["a", "b"]
    finally:
        client.close()
    assert len(_Registry.connections) == 1


def test_an_idle_connection_the_server_closed_is_replaced_without_a_retry(
    registry: str, registry_waits: list[float]
) -> None:
    _Registry.drop_after_answer = True
    client = RegistryClient(f"http://{registry}", insecure=True)
    try:
        for _ in range(5):
            assert client.head_manifest("r", "t") == DIGEST
            assert client.manifest("r", "t").data == MANIFEST
    finally:
        client.close()
    assert registry_waits == []  # no backoff: each request had a live connection
    assert len(_Registry.connections) == 10


def test_a_redirect_and_an_encoded_body_are_answered_through_requests(registry: str) -> None:
    client = RegistryClient(registry, retries=0)
    try:
        assert client.manifest("moved", "t").data == MANIFEST
        assert client.head_manifest("moved", "t") == DIGEST
        assert client.manifest("r", "gz").data == MANIFEST
    finally:
        client.close()


def test_a_proxy_from_the_environment_is_used(
    registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for name in (var, var.lower()):
            monkeypatch.delenv(name, raising=False)
    # the fake registry answers as a forward proxy too: it is asked for the absolute URL
    monkeypatch.setenv("HTTP_PROXY", f"http://{registry}")
    client = RegistryClient("http://registry.invalid", insecure=True, retries=0)
    try:
        assert client.head_manifest("r", "t") == DIGEST
        assert client.manifest("r", "t").data == MANIFEST
    finally:
        client.close()


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The fake registry over TLS, with a self-signed certificate for localhost."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    _Registry.connections = []
    _Registry.drop_after_answer = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, cert
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_against_the_ca_bundle(tls_registry: tuple[int, Path]) -> None:
    port, cert = tls_registry
    url = f"https://localhost:{port}/v2/r/manifests/t"
    trusting = FastTransport(verify=True, timeout=10, user_agent="t", ca_bundle=str(cert))
    try:
        for _ in range(3):
            answer = trusting.send("HEAD", url, {})
            assert answer is not None and answer.headers.get("docker-content-digest") == DIGEST
    finally:
        trusting.close()
    assert len(_Registry.connections) == 1
    stranger = FastTransport(verify=True, timeout=10, user_agent="t")  # certifi's bundle
    try:
        with pytest.raises(requests.exceptions.SSLError):
            stranger.send("HEAD", url, {})
    finally:
        stranger.close()


def test_a_loopback_registry_over_tls_answers_without_verification(
    tls_registry: tuple[int, Path],
) -> None:
    port, _ = tls_registry
    client = RegistryClient(f"127.0.0.1:{port}", retries=0)  # loopback: its own certificate
    try:
        assert client.head_manifest("r", "t") == DIGEST
        assert client.manifest("r", "t").data == MANIFEST
    finally:
        client.close()
