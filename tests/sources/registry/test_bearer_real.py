"""The Bearer token flow against a real docker-registry whose token service is this test.

Debian's docker-registry (distribution v2) runs with ``auth: token`` trusting a certificate
made at test time; ``tokenserver.TokenServer`` issues RS256 JWTs for Basic ``user``/``pass``.
skopeo pushes through the same flow; leakscan then scans and audits through it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.sources.registry.auth import Credentials, RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from tests.conftest import require
from tests.helpers import aws_key_id, github_token, password, write_rules
from tests.plugins.registry import REGISTRY_BIN, Registry, build_oci, make_image
from tests.plugins.registry import skopeo_push as _skopeo_push
from tests.sources.registry.tokenserver import ISSUER, SERVICE, TokenServer, make_key_and_cert
from tests.support.oci import start_registry, stop_registry
from tests.support.rules_cache import seeded_cache

pytestmark = pytest.mark.registry
REPO = Path(__file__).resolve().parents[3]


@dataclass
class World:
    reg: Registry
    tokens: TokenServer
    rules: Path
    secrets: dict[str, str]
    tmp: Path


def _start_registry(tmp: Path, tokens: TokenServer) -> Registry:
    auth = (
        f"auth:\n  token:\n    realm: {tokens.realm}\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {tokens.cert}\n"
    )
    try:
        host, root, proc = start_registry(tmp, "token", auth)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    return Registry(host, root, proc, ("user", "pass"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require(Path(REGISTRY_BIN).exists(), "docker-registry is not installed")
    require(shutil.which("openssl") is not None, "openssl is not installed")
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    tmp = tmp_path_factory.mktemp("bearer")
    key, cert = make_key_and_cert(tmp)
    tokens = TokenServer(key, cert).start()
    reg = _start_registry(tmp, tokens)
    secrets = {"github": github_token(), "aws": aws_key_id(), "password": password()}
    image = make_image(
        [
            {"etc/os-release": b"ID=test\n"},
            {
                "app/.env": f"GITHUB_TOKEN={secrets['github']}\n".encode(),
                "app/db.conf": f'password = "{secrets["password"]}"\n'.encode(),
            },
        ],
        env=[f"AWS_ACCESS_KEY_ID={secrets['aws']}", "PATH=/usr/bin"],
    )
    # skopeo does the token flow itself (--dest-creds user:pass)
    _skopeo_push(build_oci(tmp / "oci", image, "v1"), "v1", reg, "team/app")
    _skopeo_push(build_oci(tmp / "oci", image, "v1"), "v1", reg, "other/app")
    seeded_cache(tmp / "cache")
    yield World(reg, tokens, write_rules(tmp / "rules"), secrets, tmp)
    stop_registry(reg.proc)
    tokens.stop()


def _cli(world: World, args: list[str], pw: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """A real leakscan process: the report on stdout, the -vv log on stderr, kept apart.

    The compiled rules are in the module's cache from the start (``seeded_cache``)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LEAKSCAN_CACHE_DIR": str(world.tmp / "cache"),
        "DOCKER_CONFIG": str(tmp / "no-docker-config"),
    }
    env.pop("LEAKSCAN_REGISTRY_USERNAME", None)
    env.pop("LEAKSCAN_REGISTRY_PASSWORD", None)
    return subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args, "--rules", str(world.rules)],
        input=pw + "\n",
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _no_credentials(world: World, text: str, pw: str = "pass") -> None:
    assert f"user:{pw}" not in text and f"{pw}\n" not in text
    for token in world.tokens.issued:
        assert token not in text, "a bearer token leaked"
        assert token.split(".")[2] not in text, "a token signature leaked"


def test_scan_image_through_the_token_flow(world: World, tmp_path: Path) -> None:
    before = len(world.tokens.requests)
    proc = _cli(
        world,
        [
            "scan",
            "image",
            f"{world.reg.host}/team/app:v1",
            "--username",
            "user",
            "--password-stdin",
            "--format",
            "json",
            "--no-progress",
            "-vv",
        ],
        "pass",
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    # the planted secrets are found, shown redacted
    for rule in ("test.github.pat", "test.aws.key-id", "leakscan.generic.test-password"):
        assert rule in proc.stdout, (rule, proc.stdout[-3000:])
    assert "app/.env" in proc.stdout and "app/db.conf" in proc.stdout
    for secret in world.secrets.values():
        assert secret not in proc.stdout + proc.stderr
    # the token service was asked with the right Basic credentials, service and pull scope
    asked = world.tokens.requests[before:]
    assert asked, "leakscan never asked the token service"
    assert all(r.authorized and r.service == SERVICE for r in asked), asked
    assert {r.scope for r in asked} == {"repository:team/app:pull"}
    assert len(asked) == 1, "one token per scope, reused for the manifest and every blob"
    # the debug log was on, and holds neither the password nor any token
    assert "DEBUG" in proc.stderr, proc.stderr[-2000:]
    assert "bearer token" in proc.stderr  # the token fetch is logged (without the token)
    _no_credentials(world, proc.stdout + proc.stderr)


def test_audit_through_the_token_flow(world: World, tmp_path: Path) -> None:
    before = len(world.tokens.requests)
    out = tmp_path / "audit.json"
    proc = _cli(
        world,
        [
            "audit",
            world.reg.host,
            "--insecure",
            "--username",
            "user",
            "--password-stdin",
            "--state",
            str(tmp_path / "state.sqlite"),
            "--no-progress",
            "--format",
            "json",
            "-o",
            str(out),
            "-vv",
        ],
        "pass",
        tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    assert "DEBUG" in proc.stderr  # the debug log was on (and is checked below)
    report = out.read_text()
    assert "team/app" in report and "other/app" in report and "test.github.pat" in report
    assert "test.aws.key-id" in report
    for secret in world.secrets.values():
        assert secret not in report + proc.stdout + proc.stderr
    scopes = [r.scope for r in world.tokens.requests[before:]]
    # the catalog needs its own scope; each repository is asked once for pull
    assert sorted(scopes) == [
        "registry:catalog:*",
        "repository:other/app:pull",
        "repository:team/app:pull",
    ], scopes
    _no_credentials(world, report + proc.stdout + proc.stderr)


def test_wrong_password_exits_2_with_one_line(world: World, tmp_path: Path) -> None:
    wrong = "Wr0ng-pw-" + password()
    before = len(world.tokens.requests)
    for args in (
        ["scan", "image", f"{world.reg.host}/team/app:v1"],
        ["audit", world.reg.host, "--insecure", "--state", str(tmp_path / "s.sqlite")],
    ):
        login = ["--username", "user", "--password-stdin", "--no-progress"]
        proc = _cli(world, [*args, *login], wrong, tmp_path)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr[-3000:])
        assert proc.stderr.splitlines() == [
            f"leakscan: error: {world.reg.host}: the token service refused the credentials "
            "(HTTP 401)"
        ], proc.stderr[-3000:]
        assert wrong not in proc.stdout + proc.stderr
        # -vv adds the debug log and the traceback, still without the password or a token
        loud = _cli(world, [*args, *login, "-vv"], wrong, tmp_path)
        assert loud.returncode == 2, loud.stderr[-3000:]
        if args[0] == "scan":  # the audit stops at its first request: nothing to debug-log
            assert "DEBUG" in loud.stderr, loud.stderr[-3000:]
        _no_credentials(world, loud.stdout + loud.stderr, wrong)
        assert wrong not in loud.stdout + loud.stderr
    asked = world.tokens.requests[before:]
    assert len(asked) == 4 and all(r.basic and not r.authorized for r in asked), asked


def test_expired_token_is_refreshed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A token that outlived its expires_in is not sent again: the client takes the 401
    challenge of the real registry and fetches a fresh one for that scope."""
    monkeypatch.setattr(world.tokens, "lifetime", 1)
    monkeypatch.setenv("DOCKER_CONFIG", str(world.tmp / "no-docker-config"))
    now = [time.time()]  # the client's clock for token lifetimes: moved on, not slept
    auth = RegistryAuth(Credentials("user", "pass"), clock=lambda: now[0])
    client = RegistryClient(world.reg.host, auth, insecure=True)
    before = len(world.tokens.requests)
    assert list(client.tags("team/app")) == ["v1"]
    now[0] += 4.8
    assert list(client.tags("team/app")) == ["v1"]  # the token is reused while fresh
    assert world.tokens.scopes()[before:] == ["repository:team/app:pull"]
    now[0] += 0.4  # leakscan keeps a token at least 5 s, whatever expires_in says
    assert list(client.tags("team/app")) == ["v1"]
    assert world.tokens.scopes()[before:] == ["repository:team/app:pull"] * 2
    client.close()


def test_repository_without_access_fails_alone(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token service grants nothing on one repository: the real registry answers 401
    insufficient_scope there; that image fails with a clear error, the audit scans the rest."""
    monkeypatch.setattr(world.tokens, "deny", {"other/app"})
    # in-process (fast): the CLI's log handler is made afresh on this run's stderr
    monkeypatch.setattr(logging.getLogger("leakscan"), "handlers", [])
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    result = CliRunner().invoke(
        app,
        [
            "audit",
            world.reg.host,
            "--insecure",
            "--username",
            "user",
            "--password-stdin",
            "--state",
            str(tmp_path / "s.sqlite"),
            "--no-progress",
            "--format",
            "json",
            "-o",
            str(tmp_path / "audit.json"),
            "--rules",
            str(world.rules),
        ],
        input="pass\n",
    )
    # findings exit 1 even though an image failed (docs/audit.md): cron logic sees the secrets
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "audit.json").read_text())
    repos = report["audit"]["repositories"]
    assert repos["team/app"]["images"] == 1 and not repos["team/app"].get("failed"), repos
    assert repos["other/app"]["failed"] == 1, repos
    assert report["stats"]["repositories_failed"] == 1  # counted in the totals too
    assert any(f["rule_id"] == "test.github.pat" for f in report["findings"])
    errors = result.output
    # listed once among the failed images, with its one-line reason
    assert f"{world.reg.host}/other/app: {world.reg.host}: unauthorized (HTTP 401)" in errors
    assert "other/app" in errors and "401" in errors, errors[-3000:]
    assert "Traceback" not in errors
    _no_credentials(world, errors + json.dumps(report))
