"""A Docker token service for tests: the auth server a real docker-registry trusts.

The key and a self-signed certificate are made with the ``openssl`` CLI at test time; tokens
are RS256 JWTs signed with ``openssl dgst`` and carry the certificate in an ``x5c`` header, so
the registry (``auth: token: rootcertbundle: cert.pem``) verifies them with no key id lookup.
Every token request is recorded (scope, service, whether Basic credentials were right).
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SERVICE = "test-registry"
ISSUER = "test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key_and_cert(directory: Path) -> tuple[Path, Path]:
    """An RSA key and a self-signed certificate for it (PEM files)."""
    key, cert = directory / "token.key", directory / "token.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=test-token-issuer",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return key, cert


def _der(cert: Path) -> bytes:
    return subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-outform", "DER"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


@dataclass
class TokenRequest:
    scope: str
    service: str
    authorized: bool  # Basic credentials present and right
    basic: bool  # Basic credentials present at all


@dataclass
class TokenServer:
    """Serve ``/token`` on loopback; ``user``/``password`` are the only accepted credentials."""

    key: Path
    cert: Path
    user: str = "user"
    password: str = field(default="pass", repr=False)
    lifetime: int = 300  # exp - iat of the JWTs, and expires_in
    requests: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list, repr=False)  # every token handed out
    deny: set[str] = field(default_factory=set)  # repositories the user gets no access to
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self._x5c = base64.b64encode(_der(self.cert)).decode()
        self._lock = threading.Lock()

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def start(self) -> TokenServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def scopes(self) -> list[str]:
        with self._lock:
            return [r.scope for r in self.requests]

    def sign(self, claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
        return signing_input + "." + _b64url(signature)

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        url = urlparse(http.path)
        if url.path != "/token":
            return _send(http, 404, {"error": "not found"})
        query = parse_qs(url.query)
        scopes = query.get("scope", [])
        service = (query.get("service") or [""])[0]
        auth = http.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        ok = auth == expected
        with self._lock:
            self.requests.append(
                TokenRequest(" ".join(scopes), service, ok, auth.startswith("Basic "))
            )
        if not ok:
            return _send(http, 401, {"errors": [{"code": "UNAUTHORIZED"}]})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": self.user,
            "aud": service,
            "iat": now,
            "nbf": now - 1,
            "exp": now + self.lifetime,
            "jti": secrets.token_hex(12),
            "access": [
                grant
                for scope in scopes
                for s in scope.split(" ")
                if s and (grant := _access(s))["name"] not in self.deny
            ],
        }
        token = self.sign(claims)
        with self._lock:
            self.issued.append(token)
        _send(http, 200, {"token": token, "access_token": token, "expires_in": self.lifetime})


def _access(scope: str) -> dict[str, object]:
    """``repository:app:pull,push`` → the grant, everything asked is given."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


def _send(http: BaseHTTPRequestHandler, code: int, doc: dict[str, object]) -> None:
    body = json.dumps(doc).encode()
    http.send_response(code)
    http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(body)))
    http.end_headers()
    http.wfile.write(body)
