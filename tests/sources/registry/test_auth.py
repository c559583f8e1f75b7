"""Registry auth: Basic against a real htpasswd registry, Bearer and bad answers from fakes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.sources.registry.auth import (
    Credentials,
    RegistryAuth,
    docker_credentials,
    parse_challenge,
)
from leakscan.sources.registry.client import RegistryClient
from tests.helpers import github_token, write_rules
from tests.plugins.registry import Registry, api_push, make_image


def _audit(host: str, tmp_path, *args: str, input: str | None = None):
    return CliRunner().invoke(
        app,
        [
            "audit",
            host,
            "--insecure",
            "--state",
            str(tmp_path / "s.sqlite"),
            "--no-progress",
            "--rules",
            str(write_rules(tmp_path / "rules")),
            *args,
        ],
        input=input,
    )


@pytest.mark.registry
def test_basic_auth_right_and_wrong_password(registry_htpasswd: Registry, tmp_path):
    token = github_token()
    api_push(
        registry_htpasswd,
        "private/app",
        "1",
        make_image([{"etc/app.env": f"GITHUB_TOKEN={token}\n".encode()}]),
    )
    ok = _audit(
        registry_htpasswd.host, tmp_path, "--username", "user", "--password-stdin", input="pass\n"
    )
    assert ok.exit_code == 1, ok.output
    assert "private/app" in ok.output and token not in ok.output
    wrong_pw = "wr0ng-Passw0rd-xyz"
    bad = _audit(
        registry_htpasswd.host,
        tmp_path / "b",
        "--username",
        "user",
        "--password-stdin",
        input=wrong_pw + "\n",
    )
    assert bad.exit_code == 2
    assert "401" in bad.output and wrong_pw not in bad.output


class _Fake(BaseHTTPRequestHandler):
    token_requests: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        host = f"127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/token"):
            from urllib.parse import parse_qs, urlparse

            q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            q["auth"] = self.headers.get("Authorization", "")
            _Fake.token_requests.append(q)
            expected = "Basic " + base64.b64encode(b"bob:s3cret-pw").decode()
            if q["auth"] != expected:
                return self._send(401, b"{}")
            return self._send(
                200, json.dumps({"token": "tok-" + q.get("scope", ""), "expires_in": 300}).encode()
            )
        want = self.path.split("?")[0]
        if self.headers.get("Authorization", "") not in (
            "Bearer tok-registry:catalog:*",
            "Bearer tok-repository:x:pull",
        ):
            return self._send(
                401,
                b"{}",
                {
                    "WWW-Authenticate": (
                        f'Bearer realm="http://{host}/token",service="fake",scope="x"'
                    )
                },
            )
        if want == "/v2/_catalog":
            return self._send(200, b'{"repositories": ["x"]}')
        if want == "/v2/x/tags/list":
            return self._send(200, b'{"name": "x", "tags": ["notjson", "endless"]}')
        if want == "/v2/x/manifests/notjson":
            return self._send(
                200,
                b"<html>oops</html>",
                {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            )
        if want == "/v2/x/manifests/endless":
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"{" * 65536)
            except OSError:
                return None
        return self._send(404, b'{"errors": [{"code": "NAME_UNKNOWN"}]}')

    do_HEAD = do_GET


@pytest.fixture
def fake() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Fake.token_requests.clear()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_bearer_flow_and_bad_manifests(fake: str, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nodocker"))
    client = RegistryClient(
        fake, RegistryAuth(Credentials("bob", "s3cret-pw")), insecure=True, backoff=0.01
    )
    assert list(client.catalog()) == ["x"]
    assert list(client.tags("x")) == ["notjson", "endless"]
    scopes = [q["scope"] for q in _Fake.token_requests]
    assert scopes == ["registry:catalog:*", "repository:x:pull"]
    assert all(q["service"] == "fake" for q in _Fake.token_requests)
    assert "s3cret-pw" not in repr(client.auth) and "s3cret-pw" not in repr(
        Credentials("bob", "s3cret-pw")
    )
    result = CliRunner().invoke(
        app,
        [
            "audit",
            fake,
            "--insecure",
            "--state",
            str(tmp_path / "s.sqlite"),
            "--username",
            "bob",
            "--password-stdin",
            "--no-progress",
        ],
        input="s3cret-pw\n",
    )
    assert result.exit_code == 2
    assert "not JSON" in result.output and "larger than" in result.output
    assert "s3cret-pw" not in result.output


def test_docker_config_auths_and_helpers(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        '#!/bin/sh\nread host\necho "{\\"Username\\": \\"h-$host\\", \\"Secret\\": \\"hs\\"}"\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auths": {"a.example": {"auth": base64.b64encode(b"alice:pw1").decode()}},
                "credHelpers": {"b.example": "fake"},
                "credsStore": "fake",
            }
        )
    )
    assert docker_credentials("a.example", config) == Credentials("alice", "pw1")
    assert docker_credentials("b.example", config) == Credentials("h-b.example", "hs")
    assert docker_credentials("c.example", config) == Credentials("h-c.example", "hs")
    scheme, params = parse_challenge('Bearer realm="https://a/token",service="reg",scope="x:y"')
    assert scheme == "bearer" and params == {
        "realm": "https://a/token",
        "service": "reg",
        "scope": "x:y",
    }


def test_concurrent_401s_retry_with_the_token_another_thread_got(fake: str, monkeypatch):
    """Two threads' requests leave before either has a token and both come back 401: the
    second challenge must retry with the first one's token, not call the credentials bad."""
    import requests

    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    auth = RegistryAuth(Credentials("bob", "s3cret-pw"))
    header = f'Bearer realm="http://{fake}/token",service="fake"'
    scope = "repository:x:pull"
    with requests.Session() as session:
        assert auth.challenge(session, fake, scope, header, False, sent=None)
        assert auth.challenge(session, fake, scope, header, False, sent=None)
        assert len(_Fake.token_requests) == 1  # the second thread took the first's token
        held = auth.headers(fake, scope)["Authorization"]
        # the registry refusing the token just fetched: the credentials lack access
        assert not auth.challenge(session, fake, scope, header, False, sent=held)
        # one request ran before the refusal with no token; after it a new one is fetched
        assert auth.challenge(session, fake, scope, header, False, sent=None)
    assert len(_Fake.token_requests) == 2


def test_concurrent_401s_under_basic_auth(monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", "/nonexistent")
    import requests

    auth = RegistryAuth(Credentials("bob", "s3cret-pw"))
    with requests.Session() as session:
        assert auth.challenge(session, "h", "", 'Basic realm="r"', False, sent=None)
        assert auth.challenge(session, "h", "", 'Basic realm="r"', False, sent=None)
        sent = auth.headers("h", "")["Authorization"]
        assert not auth.challenge(session, "h", "", 'Basic realm="r"', False, sent=sent)
    anonymous = RegistryAuth(None, use_docker_config=False)
    with requests.Session() as session:
        assert not anonymous.challenge(session, "h", "", 'Basic realm="r"', False, sent=None)
