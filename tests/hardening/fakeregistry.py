"""A tiny loopback registry whose answers a test scripts: hostile bodies, trickles, redirects.

``routes[path] = handler(request_handler)``: the handler writes the whole answer. Helpers
make the usual answers. Every server-side wait is short and bounded; ``stop()`` ends it."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]


class FakeRegistry:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.stopped = threading.Event()
        registry = self

        class _Req(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                route = registry.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Req)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers ---------------------------------------------------------------------------

    def body(self, data: bytes, content_type: str = "application/octet-stream") -> Handler:
        def answer(req: BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", content_type)
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            if req.command != "HEAD":
                req.wfile.write(data)

        return answer

    def endless(self, chunk: bytes = b"\0" * 65536, cap: int = 256 * 1024**2) -> Handler:
        """A 200 whose body never ends (stops at ``cap`` bytes, or when the client leaves)."""

        def answer(req: BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", "application/octet-stream")
            req.end_headers()
            sent = 0
            while sent < cap and not self.stopped.is_set():
                req.wfile.write(chunk)
                sent += len(chunk)
            req.close_connection = True

        return answer

    def trickle(self, length: int = 4096, every: float = 0.02) -> Handler:
        """Headers at once, then one body byte every ``every`` seconds (never all of it)."""

        def answer(req: BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(length))
            req.end_headers()
            req.wfile.flush()
            for _ in range(length):
                if self.stopped.wait(every):
                    return
                req.wfile.write(b" ")
                req.wfile.flush()

        return answer

    def trickle_headers(self, every: float = 0.02, count: int = 10_000) -> Handler:
        """The status line, then one header byte every ``every`` seconds (never the end)."""

        def answer(req: BaseHTTPRequestHandler) -> None:
            req.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            req.wfile.flush()
            for _ in range(count):
                if self.stopped.wait(every):
                    return
                req.wfile.write(b"a")
                req.wfile.flush()
            req.close_connection = True

        return answer

    def redirect(self, to: str) -> Handler:
        def answer(req: BaseHTTPRequestHandler) -> None:
            req.send_response(302)
            req.send_header("Location", to)
            req.send_header("Content-Length", "0")
            req.end_headers()

        return answer

    def challenge(self, realm_path: str) -> Handler:
        def answer(req: BaseHTTPRequestHandler) -> None:
            req.send_response(401)
            realm = f"http://{self.host}{realm_path}"
            req.send_header("WWW-Authenticate", f'Bearer realm="{realm}",service="fake"')
            req.send_header("Content-Length", "0")
            req.end_headers()

        return answer

    def image(self, repo: str, tag: str, layers: list[bytes], env: list[str]) -> dict[str, Any]:
        """Serve an image (manifest, config, layer blobs); returns the manifest document."""
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "config": {"Env": env}, "rootfs": {}}
        ).encode()
        config_digest = _digest(config)
        self.routes[f"/v2/{repo}/blobs/{config_digest}"] = self.body(config)
        descs = []
        for layer in layers:
            d = _digest(layer)
            self.routes[f"/v2/{repo}/blobs/{d}"] = self.body(layer)
            descs.append(
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": d,
                    "size": len(layer),
                }
            )
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descs,
        }
        self.routes["/v2/"] = self.body(b"{}", "application/json")
        self.routes[f"/v2/{repo}/manifests/{tag}"] = self.body(
            json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
        )
        return manifest


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class StepClock:
    """A clock that moves ``step`` seconds each time it is read (no real waiting)."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now
