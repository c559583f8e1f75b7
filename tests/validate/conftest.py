"""Loopback HTTP servers that answer as providers' APIs document, started by fixtures.

A ``FakeApi`` records every request (method, path, headers, body) and answers through a
handler the test gives: ``handler(request) -> (status, headers, body)``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.rules_cache import seeded_cache


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = tuple[int, dict[str, str], bytes]
Handler = Callable[[Request], Answer]


def json_answer(status: int, doc: Any, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(doc).encode()


@dataclass
class FakeApi:
    url: str
    requests: list[Request] = field(default_factory=list)
    handler: Handler = lambda request: json_answer(404, {"message": "Not Found"})


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi(url="")
    lock = threading.Lock()

    class Handle(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            with lock:
                api.requests.append(request)
            status, headers, data = api.handler(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_cache(tmp_path_factory.mktemp("leakscan-cache"))


@pytest.fixture(autouse=True)
def cache_dir(_session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One cache dir for the session (the compiled rules are reused); no validation answers
    carried from one test to the next."""
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(_session_cache))
    monkeypatch.delenv("LEAKSCAN_VALIDATE_TTL", raising=False)
    (_session_cache / "validation.json").unlink(missing_ok=True)
    return _session_cache
