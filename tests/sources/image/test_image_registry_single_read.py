"""`scan image` from a real registry: each layer blob downloaded once, the same findings as from
an OCI layout; registry login flags (--username/--password-stdin, env) on `scan image`."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leakscan.sources.registry.client import RegistryClient
from tests.plugins.registry import Registry, api_push, build_oci, make_image, running_registry
from tests.sources.image.helpers import run_cli, token, write_rules

pytestmark = pytest.mark.registry


# registries of this module's own: the session ones are audited whole by other tests, which
# count their repositories and layers


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("single-read-registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("single-read-auth"), htpasswd=True) as reg:
        yield reg


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("rules"))


@pytest.fixture(scope="module")
def planted() -> dict[str, str]:
    return {k: token() for k in ("present", "deleted", "overwritten", "env")}


@pytest.fixture(scope="module")
def image(planted: dict[str, str]) -> Any:
    return make_image(
        [
            {
                "app/present.txt": f"token = {planted['present']}\n".encode(),
                "usr/lib/readme.txt": b"nothing here\n" * 100,
            },
            {
                "app/gone.txt": f"token = {planted['deleted']}\n".encode(),
                "app/conf.ini": f"token = {planted['overwritten']}\n".encode(),
            },
            {"app/gone.txt": None, "app/conf.ini": b"token = none\n"},
        ],
        env=[f"GH_TOKEN={planted['env']}"],
    )


@pytest.fixture
def blob_gets(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """GET requests per blob digest made by leakscan's registry client."""
    seen: Counter[str] = Counter()
    real = RegistryClient.request

    def counting(self: RegistryClient, method: str, path: str, *args: Any, **kw: Any) -> Any:
        if method == "GET" and "/blobs/" in path:
            seen[path.rsplit("/", 1)[-1]] += 1
        return real(self, method, path, *args, **kw)

    monkeypatch.setattr(RegistryClient, "request", counting)
    return seen


def _locations(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    keys = (
        "path",
        "state",
        "layer_index",
        "created_by",
        "deleted_in_layer",
        "overwritten_in_layer",
        "field",
    )
    return {
        (f["rule_id"] if "rule_id" in f else f.get("rule"), *(loc.get(k) for k in keys))
        for f in doc["findings"]
        for loc in f["locations"]
    }


def _scan(
    ref: str, rules: Path, *extra: str, stdin: str | None = None
) -> tuple[int, dict[str, Any] | None, str]:
    return run_cli(
        ["scan", "image", ref, "--rules", str(rules), "--format", "json", "--no-progress", *extra],
        stdin=stdin,
    )


def test_each_layer_downloaded_once_same_findings(
    registry_server: Registry,
    image: Any,
    rules: Path,
    tmp_path: Path,
    blob_gets: Counter[str],
) -> None:
    name = f"single/{uuid.uuid4().hex[:8]}"
    api_push(registry_server, name, "v1", image)
    code, doc, err = _scan(f"{registry_server.host}/{name}:v1", rules)
    assert code == 1 and doc is not None, err
    for digest in image.layer_digests:
        assert blob_gets[digest] == 1, (digest, blob_gets)
    assert sum(blob_gets.values()) == len(image.layers) + 1  # and the config once

    code_oci, doc_oci, err_oci = _scan(f"oci:{build_oci(tmp_path / 'layout', image)}:latest", rules)
    assert code_oci == 1 and doc_oci is not None, err_oci
    found = _locations(doc)
    assert found == _locations(doc_oci)
    states = {loc[1]: loc[2:6] for loc in found if loc[1]}
    assert states["app/present.txt"] == ("present", 0, "COPY layer0 /", None)
    assert states["app/gone.txt"] == ("deleted", 1, "COPY layer1 /", 2)
    assert states["app/conf.ini"][:3] == ("overwritten", 1, "COPY layer1 /")


def test_username_password_stdin(
    registry_htpasswd: Registry,
    image: Any,
    rules: Path,
    planted: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no credentials from the machine
    for var in ("LEAKSCAN_REGISTRY_USERNAME", "LEAKSCAN_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    api_push(registry_htpasswd, "private/app", "1", image)
    ref = f"{registry_htpasswd.host}/private/app:1"
    code, doc, err = _scan(ref, rules, "--username", "user", "--password-stdin", stdin="pass\n")
    assert code == 1 and doc is not None, err
    assert planted["present"] in str(doc) or doc["findings"]

    wrong = "wr0ng-" + uuid.uuid4().hex
    code, doc, err = _scan(ref, rules, "--username", "user", "--password-stdin", stdin=wrong + "\n")
    assert code == 2, err
    assert wrong not in err and wrong not in str(doc)
    assert err.strip().startswith("leakscan: error:") and "\n" not in err.strip()

    code, _, err = _scan(ref, rules)  # no credentials at all
    assert code == 2 and "Traceback" not in err

    code, _, err = _scan(ref, rules, "--username", "user")  # never a password argument
    assert code == 2 and "--password-stdin" in err

    monkeypatch.setenv("LEAKSCAN_REGISTRY_USERNAME", "user")
    monkeypatch.setenv("LEAKSCAN_REGISTRY_PASSWORD", "pass")
    code, doc, err = _scan(ref, rules, "--insecure")
    assert code == 1 and doc is not None and doc["findings"], err
