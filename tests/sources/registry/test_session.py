"""The registry client reads proxy settings once per host, and still honours them: a request
goes through HTTP_PROXY unless NO_PROXY names the registry; ~/.netrc is never used."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from leakscan.sources.registry.client import RegistryClient, RegistryError


class _Proxy(BaseHTTPRequestHandler):
    """A forward proxy that answers every request itself, noting the URL it was asked for."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        type(self).seen.append(self.path + (f" with {auth.split()[0]}" if auth else ""))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    _Proxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for name in (var, var.lower()):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        yield _Proxy.seen
    finally:
        server.shutdown()
        server.server_close()


def test_requests_go_through_the_environment_proxy(proxy: list[str], tmp_path: Path) -> None:
    # credentials come from the registry auth alone: a netrc entry is not sent
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine registry.invalid login u password p\n")  # leakscan:allow
    netrc.chmod(0o600)
    client = RegistryClient("http://registry.invalid", insecure=True, retries=0)
    client.ping()
    client.ping()
    assert proxy == ["http://registry.invalid/v2/"] * 2


def test_no_proxy_names_the_registry(proxy: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "registry.invalid")
    client = RegistryClient("http://registry.invalid", insecure=True, retries=0)
    with pytest.raises(RegistryError, match="unreachable"):
        client.ping()  # straight to a host that does not resolve
    assert proxy == []
