"""Hostile registries (issue 19 case 4), served on loopback by :mod:`fakeregistry`.

- a layer body longer than its manifest declares (endless) fails that layer at the declared
  size; the config and the other layers still report;
- a manifest, a token answer or a blob trickled a byte at a time is cut off by the overall
  deadline (an injected clock: no real waiting);
- the token-realm request honours the registry timeout (not a fixed 30 s);
- a redirect loop is one clear line and exit 2, in ``scan image`` and ``audit``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leakscan.engine.redact import redact
from leakscan.sources.registry.auth import RegistryAuthError
from leakscan.sources.registry.client import RegistryClient, RegistryError
from tests.hardening.fakeregistry import FakeRegistry, StepClock, layer_tar
from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("registry-rules"))


def _cli(*args: str, timeout: str = "5") -> tuple[int, dict[str, Any] | None, str]:
    env = {**os.environ, "LEAKSCAN_REGISTRY_TIMEOUT": timeout}
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        check=False,
    )
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc.returncode, doc, proc.stderr


def test_layer_longer_than_declared_fails_alone(rules: Path) -> None:
    good, in_env = ghp_token(), ghp_token()
    with FakeRegistry() as reg:
        layers = [layer_tar({"app/a.txt": b"nothing"}), layer_tar({"b.txt": f"t={good}".encode()})]
        manifest = reg.image("team/app", "v1", layers, [f"GITHUB_TOKEN={in_env}"])
        reg.routes[f"/v2/team/app/blobs/{manifest['layers'][0]['digest']}"] = reg.endless()
        code, doc, err = _cli(
            "scan", "image", f"{reg.host}/team/app:v1", "--rules", str(rules),
            "-f", "json", "--show-secrets", "--no-progress",
        )  # fmt: skip
    assert code == 2 and "Traceback" not in err, err
    assert "longer than its declared size" in err and "layer 1" in err
    assert doc is not None
    assert {good, in_env} <= {f["secret"] for f in doc["findings"]}


def test_trickled_manifest_meets_the_deadline() -> None:
    with FakeRegistry() as reg:
        reg.routes["/v2/team/app/manifests/v1"] = reg.trickle(length=100_000)
        client = RegistryClient(reg.host, insecure=True, timeout=5, clock=StepClock(4.0))
        with pytest.raises(RegistryError, match="no complete answer within 10 s"):
            client.manifest("team/app", "v1")
        client.close()


def test_trickled_headers_meet_the_deadline() -> None:
    # the status line, then a header byte every 20 ms: each read is in time (0.25 s), the
    # headers never end; the answer's deadline (2 x 0.25 s) stops it
    with FakeRegistry() as reg:
        reg.routes["/v2/team/app/manifests/v1"] = reg.trickle_headers()
        client = RegistryClient(reg.host, insecure=True, timeout=0.25, retries=0)
        with pytest.raises(RegistryError, match="no answer within"):
            client.manifest("team/app", "v1")
        client.close()
        reg.routes["/v2/team/app/manifests/v1"] = reg.challenge("/token")
        reg.routes["/token"] = reg.trickle_headers()
        client = RegistryClient(reg.host, insecure=True, timeout=0.25, retries=0)
        with pytest.raises(RegistryAuthError, match="token service"):
            client.manifest("team/app", "v1")
        client.close()


def test_trickled_blob_meets_its_deadline() -> None:
    with FakeRegistry() as reg:
        digest = "sha256:" + "ab" * 32
        reg.routes[f"/v2/team/app/blobs/{digest}"] = reg.trickle(length=100_000)
        client = RegistryClient(reg.host, insecure=True, timeout=5, clock=StepClock(30.0))
        stream = client.blob("team/app", digest, size=100_000)
        with pytest.raises(RegistryError, match="not complete within"):
            while stream.read(1024):
                pass
        client.close()


def test_token_realm_uses_the_registry_timeout_and_deadline() -> None:
    with FakeRegistry() as reg:
        reg.routes["/v2/team/app/manifests/v1"] = reg.challenge("/token")
        reg.routes["/token"] = reg.trickle(length=100_000)
        client = RegistryClient(reg.host, insecure=True, timeout=5, clock=StepClock(4.0))
        with pytest.raises(RegistryAuthError, match="token service gave no complete answer"):
            client.manifest("team/app", "v1")
        client.close()
        # a token service that sends headers then nothing: the per-read timeout (0.3 s), not 30
        reg.routes["/token"] = reg.trickle(length=10, every=5.0)
        client = RegistryClient(reg.host, insecure=True, timeout=0.3, retries=0)
        with pytest.raises(RegistryAuthError, match="token service unreachable"):
            client.manifest("team/app", "v1")
        client.close()


def test_redirect_loop_is_one_line_and_exit_2(rules: Path, tmp_path: Path) -> None:
    with FakeRegistry() as reg:
        reg.routes["/v2/"] = reg.body(b"{}", "application/json")
        loop = f"http://{reg.host}/v2/team/app/manifests/v1"
        reg.routes["/v2/team/app/manifests/v1"] = reg.redirect(loop)
        reg.routes["/v2/_catalog"] = reg.redirect(f"http://{reg.host}/v2/_catalog")
        code, _, err = _cli("scan", "image", f"{reg.host}/team/app:v1", "--rules", str(rules))
        assert code == 2 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and "redirect loop" in err
        code, _, err = _cli(
            "audit", reg.host, "--insecure", "--state", str(tmp_path / "state.sqlite"),
            "--rules", str(rules), "-f", "json",
        )  # fmt: skip
        assert code == 2 and "Traceback" not in err, err
        assert "redirect loop" in err


def test_bad_timeout_setting_is_one_line(rules: Path, tmp_path: Path) -> None:
    code, _, err = _cli("scan", str(tmp_path), "--rules", str(rules), timeout="soon")
    assert code == 2 and "LEAKSCAN_REGISTRY_TIMEOUT" in err and "Traceback" not in err


def test_audit_bad_layer_fails_alone_and_is_audited_again(rules: Path, tmp_path: Path) -> None:
    good, in_env = ghp_token(), ghp_token()
    with FakeRegistry() as reg:
        layers = [
            layer_tar({"a.bin": os.urandom(20_000)})[:10_000],  # cut in the data
            layer_tar({"b.txt": f"t={good}".encode()}),
        ]
        reg.image("team/app", "v1", layers, [f"GITHUB_TOKEN={in_env}"])
        reg.routes["/v2/_catalog"] = reg.body(b'{"repositories": ["team/app"]}')
        reg.routes["/v2/team/app/tags/list"] = reg.body(b'{"tags": ["v1"]}')
        state = str(tmp_path / "state.sqlite")
        args = ("audit", reg.host, "--insecure", "--state", state, "--rules", str(rules))
        for _ in range(2):  # not marked done: the second run audits it again
            code, doc, err = _cli(*args, "-f", "json", "--show-secrets")
            assert code == 1 and "Traceback" not in err, err  # findings, an image failed
            assert "layer 1" in err and "corrupt or truncated" in err, err
            assert doc is not None
            # (a layer read from the layer cache has no plaintext: compare previews)
            assert {redact(good), redact(in_env)} <= {f["redacted"] for f in doc["findings"]}
