"""Registry faults, through a loopback proxy in front of a real registry.

A connection cut mid-blob is resumed, 500s are retried, a stalled blob times out (the image
fails with a clear error, exit 2, the other image's findings are kept), an altered blob fails
its digest check; an audit hit by a fault exits 2 with its findings and resumes afterwards
without downloading again what it finished.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.hardening.faultproxy import Fault, FaultProxy
from tests.hardening.helpers import ghp_token, write_rules
from tests.plugins.registry import Image, Registry, _start, api_push, make_image

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def fault_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An own registry (audits count its repositories) with two images holding secrets."""
    tmp = tmp_path_factory.mktemp("fault-registry")
    reg: Registry = _start(tmp, "faults")
    rng = random.Random(8)
    secrets = {"a": ghp_token(), "b": ghp_token(), "c": ghp_token()}
    images: dict[str, Image] = {}
    for name, secret in secrets.items():
        noise = rng.randbytes(256 * 1024)  # incompressible: the layer blob is ~256 KiB
        images[name] = make_image(
            [{"app/noise.bin": noise, "app/config.txt": f"token = {secret}\n".encode()}]
        )
        api_push(reg, f"faults/{name}", "1", images[name])
    yield {"reg": reg, "secrets": secrets, "images": images, "rules": write_rules(tmp / "rules")}
    reg.proc.terminate()
    reg.proc.wait(10)


def _port(reg: Registry) -> tuple[str, int]:
    host, port = reg.host.rsplit(":", 1)
    return host, int(port)


def _scan(args: list[str], rules: Path) -> tuple[int, str, str]:
    res = CliRunner().invoke(
        app,
        [*args, "--format", "json", "--show-secrets", "--no-progress", "--rules", str(rules)],
        catch_exceptions=False,
    )
    return res.exit_code, res.stdout, res.stderr


def _secrets_in(report: str) -> set[str]:
    doc = json.loads(report)
    return {str(f.get("secret")) for f in doc["findings"]}


def _found_in(report: str) -> dict[str, set[str]]:
    """Repository -> fingerprints found there (replayed findings hold no secret in clear)."""
    out: dict[str, set[str]] = {}
    for f in json.loads(report)["findings"]:
        for loc in f["locations"]:
            out.setdefault(str(loc.get("repository")), set()).add(f["fingerprint"])
    return out


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKSCAN_REGISTRY_TIMEOUT", "0.5")


def test_cut_connection_resumes_and_findings_are_complete(
    fault_registry: dict[str, Any], registry_waits: list[float]
) -> None:
    image: Image = fault_registry["images"]["a"]
    layer = image.layer_digests[0]
    with FaultProxy(
        _port(fault_registry["reg"]), [Fault("cut", layer, arg=40_000, times=2)]
    ) as proxy:
        code, out, err = _scan(
            ["scan", "image", f"{proxy.host}/faults/a:1"], fault_registry["rules"]
        )
        assert code == 1, err
        assert _secrets_in(out) == {fault_registry["secrets"]["a"]}
        assert json.loads(out)["errors"] == []
        assert proxy.blob_gets(layer) >= 3  # cut twice, then resumed to the end
    assert registry_waits == [0.5, 1.0]  # each resume backs off first (recorded, not slept)


def test_http_500s_are_retried(fault_registry: dict[str, Any], registry_waits: list[float]) -> None:
    with FaultProxy(
        _port(fault_registry["reg"]),
        [Fault("status", "/v2/", arg=500, times=2), Fault("status", "/blobs/", arg=503, times=1)],
    ) as proxy:
        code, out, err = _scan(
            ["scan", "image", f"{proxy.host}/faults/b:1"], fault_registry["rules"]
        )
        assert code == 1, err
        assert _secrets_in(out) == {fault_registry["secrets"]["b"]}
        assert sum(1 for *_, f in proxy.requests if f == "status") == 3
    # exponential backoff per request: two retries of /v2/, then one of the blob
    assert registry_waits == [0.5, 1.0, 0.5]


def test_stalled_blob_times_out_other_image_kept(fault_registry: dict[str, Any]) -> None:
    layer = fault_registry["images"]["a"].layer_digests[0]
    with FaultProxy(
        _port(fault_registry["reg"]), [Fault("stall", layer, arg=10_000, times=None)]
    ) as proxy:
        started = time.monotonic()
        code, out, err = _scan(
            ["scan", "image", f"{proxy.host}/faults/a:1", f"{proxy.host}/faults/b:1"],
            fault_registry["rules"],
        )
        elapsed = time.monotonic() - started
    assert code == 2, err
    assert elapsed < 30, elapsed
    assert "Traceback" not in err
    assert _secrets_in(out) == {fault_registry["secrets"]["b"]}
    errors = json.loads(out)["errors"]
    assert len(errors) == 1 and "faults/a" in errors[0], errors
    assert "timeout" in errors[0].lower() or "dropped" in errors[0].lower(), errors
    assert any(
        line.startswith("leakscan: error:") and "faults/a" in line for line in err.splitlines()
    ), err


def test_altered_blob_fails_its_digest(fault_registry: dict[str, Any]) -> None:
    layer = fault_registry["images"]["c"].layer_digests[0]
    with FaultProxy(_port(fault_registry["reg"]), [Fault("corrupt", layer, times=None)]) as proxy:
        code, out, err = _scan(
            ["scan", "image", f"{proxy.host}/faults/c:1", f"{proxy.host}/faults/b:1"],
            fault_registry["rules"],
        )
    assert code == 2, err
    assert "Traceback" not in err
    errors = json.loads(out)["errors"]
    assert len(errors) == 1 and "faults/c" in errors[0] and "digest" in errors[0], errors
    assert fault_registry["secrets"]["b"] in _secrets_in(out)


def test_audit_fault_keeps_findings_then_resumes(
    fault_registry: dict[str, Any], tmp_path: Path
) -> None:
    images: dict[str, Image] = fault_registry["images"]
    secrets: dict[str, str] = fault_registry["secrets"]
    state = tmp_path / "audit.sqlite"
    bad = images["b"].layer_digests[0]
    with FaultProxy(
        _port(fault_registry["reg"]), [Fault("status", bad, arg=500, times=None)]
    ) as proxy:
        code, out, err = _scan(
            ["audit", proxy.host, "--insecure", "--state", str(state), "--workers", "1"],
            fault_registry["rules"],
        )
        assert code == 2, err
        assert "Traceback" not in err
        doc = json.loads(out)
        assert _secrets_in(out) == {secrets["a"], secrets["c"]}
        first = _found_in(out)
        assert len(doc["errors"]) == 1 and "faults/b" in doc["errors"][0], doc["errors"]
        # the second audit, fault gone, through the same host (the state is keyed by it)
        proxy.faults.clear()
        proxy.requests.clear()
        code, out, err = _scan(
            ["audit", proxy.host, "--insecure", "--state", str(state)], fault_registry["rules"]
        )
        assert code == 1, err
        doc = json.loads(out)
        found = _found_in(out)
        assert sorted(found) == ["faults/a", "faults/b", "faults/c"], found
        assert found["faults/a"] == first["faults/a"] and found["faults/c"] == first["faults/c"]
        assert _secrets_in(out) >= {secrets["b"]}  # scanned now, so shown
        assert doc["errors"] == []
        assert doc["stats"]["images_from_state"] == 2, doc["stats"]
        assert doc["stats"]["images_scanned"] == 1, doc["stats"]
        for name in ("a", "c"):  # done before: no blob downloaded again
            for digest in images[name].layer_digests:
                assert proxy.blob_gets(digest) == 0, name
        assert proxy.blob_gets(bad) == 1
    assert os.path.getsize(state) > 0


def test_registry_that_never_answers_is_a_clear_error() -> None:
    """The --insecure HTTPS probe and every retry time out: a RegistryError, not ReadTimeout."""
    import socket

    from leakscan.sources.registry.client import RegistryClient, RegistryError

    with socket.create_server(("127.0.0.1", 0)) as silent:
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        client = RegistryClient(host, insecure=True, retries=1, backoff=0.0, timeout=0.3)
        with pytest.raises(RegistryError, match="unreachable"):
            client.ping()
        client.close()
