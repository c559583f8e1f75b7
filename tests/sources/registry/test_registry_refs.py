"""Registry references behave the same in ``scan image`` and ``audit``: a loopback registry
needs no --insecure in either; a TLS failure on a private address says what to try; a bare
name is the local daemon's image when the daemon holds it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.sources.image import reference
from leakscan.sources.registry.client import RegistryClient, is_loopback, is_private
from tests.hardening.fakeregistry import FakeRegistry, layer_tar
from tests.helpers import github_token, write_rules

runner = CliRunner()


@pytest.fixture()
def registry() -> Any:
    token = github_token()
    with FakeRegistry() as reg:
        reg.image("app", "1", [layer_tar({"app/.env": f"GITHUB_TOKEN={token}\n".encode()})], [])
        reg.routes["/v2/_catalog"] = reg.body(
            json.dumps({"repositories": ["app"]}).encode(), "application/json"
        )
        reg.routes["/v2/app/tags/list"] = reg.body(
            json.dumps({"name": "app", "tags": ["1"]}).encode(), "application/json"
        )
        yield reg


def test_loopback_registry_needs_no_insecure_in_scan_image_and_audit(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    rules = write_rules(tmp_path / "rules")
    common = ["--rules", str(rules), "--no-progress", "-f", "json"]
    scanned = runner.invoke(app, ["scan", "image", f"{registry.host}/app:1", *common])
    assert scanned.exit_code == 1, scanned.output
    audited = runner.invoke(
        app, ["audit", registry.host, "--state", str(tmp_path / "state.db"), *common]
    )
    assert audited.exit_code == 1, audited.output
    for result in (scanned, audited):
        (finding,) = json.loads(result.stdout)["findings"]
        assert finding["rule_id"] == "test.github.pat"
        assert finding["locations"][0]["path"] == "app/.env"


@pytest.mark.parametrize(
    ("host", "loopback", "private"),
    [
        ("localhost:5000", True, True),
        ("127.0.0.1:5000", True, True),
        ("[::1]:5000", True, True),
        ("10.0.3.7:5000", False, True),
        ("192.168.1.20", False, True),
        ("registry.internal:443", False, True),
        ("ghcr.io", False, False),
        ("8.8.8.8:5000", False, False),
    ],
)
def test_loopback_and_private_addresses(host: str, loopback: bool, private: bool) -> None:
    assert is_loopback(host) is loopback
    assert is_private(host) is private
    assert RegistryClient(host).insecure is loopback


def test_tls_failure_on_a_private_address_suggests_insecure() -> None:
    failure = requests.exceptions.SSLError("certificate verify failed")
    assert "--insecure" in RegistryClient("10.0.3.7:5000")._tls_hint(failure)
    assert RegistryClient("ghcr.io")._tls_hint(failure) == ""  # a public host: no such advice
    assert RegistryClient("10.0.3.7:5000")._tls_hint(requests.ConnectionError()) == ""


@pytest.mark.parametrize(
    ("ref", "bare"),
    [
        ("myapp:1.0", True),
        ("org/app", True),
        ("docker://myapp:1.0", False),
        ("ghcr.io/org/app:1", False),
        ("localhost/app", False),
        ("127.0.0.1:5000/app:1", False),
        ("docker-daemon:myapp:1.0", False),
        ("oci:layout", False),
    ],
)
def test_bare_names(ref: str, bare: bool) -> None:
    assert reference.is_bare_name(ref) is bare


def test_bare_name_in_the_daemon_is_read_from_it_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leakscan.sources.image import daemon
    from leakscan.sources.interface import SourceOptions

    asked: list[str] = []

    class FakeDaemonStore:
        def __init__(self, name: str, ref: str) -> None:
            self.image_name, self.reference = name, ref

    monkeypatch.setattr(daemon, "in_daemon", lambda name: asked.append(name) or True)
    monkeypatch.setattr(daemon, "DaemonStore", FakeDaemonStore)
    store = reference.open_store("myapp:1.0", SourceOptions())
    assert asked == ["myapp:1.0"]
    assert isinstance(store, FakeDaemonStore)
    assert store.reference == "docker-daemon:myapp:1.0"  # the location says where it came from
    asked.clear()
    explicit = reference.open_store("docker://myapp:1.0", SourceOptions())
    assert asked == [] and not isinstance(explicit, FakeDaemonStore)


def test_bare_name_without_a_daemon_goes_to_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakscan.sources.image.registry import RegistryStore
    from leakscan.sources.interface import SourceOptions

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    store = reference.open_store("myapp:1.0", SourceOptions())  # no request made yet
    assert isinstance(store, RegistryStore)
