"""`make demo`'s inputs give the findings the README promises: real secrets in each source."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(shutil.which("git") is not None, "git is not installed")
    copy = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(DEMO, copy, ignore=shutil.ignore_patterns("build"))
    subprocess.run([sys.executable, str(copy / "build.py")], check=True, capture_output=True)
    return copy


def scan(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["scan", *args, "-f", "json"])
    assert result.exit_code == 1, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_manifests(demo: Path) -> None:
    doc = scan(str(demo / "manifests"))
    rules = {f["rule_id"] for f in doc["findings"]}
    assert {
        "leakscan.aws.access-key-id",
        "leakscan.aws.secret-access-key",
        "leakscan.stripe.secret-key",
        "leakscan.slack.webhook",
        "leakscan.postgres.connection-url",
    } <= rules
    secret_key = [
        loc
        for f in doc["findings"]
        for loc in f["locations"]
        if loc["path"].endswith("k8s-secret.yaml")
    ]
    assert secret_key and secret_key[0]["line"] == 8  # the decoded Secret value, at its key


def test_image(demo: Path) -> None:
    doc = scan("image", f"docker-archive:{demo / 'build' / 'app-image.tar'}")
    by_rule = {f["rule_id"]: f["locations"] for f in doc["findings"]}
    (deleted,) = by_rule["leakscan.github.pat-classic"]
    assert deleted["state"] == "deleted" and deleted["deleted_in_layer"] == 2
    assert by_rule["leakscan.npm.access-token"][0]["field"].startswith("History[")
    assert "leakscan.private-key.rsa" in by_rule


def test_git_history(demo: Path) -> None:
    doc = scan("git", str(demo / "build" / "repo"))
    (finding,) = doc["findings"]
    (loc,) = finding["locations"]
    assert finding["rule_id"] == "leakscan.stripe.secret-key"
    assert loc["path"] == "deploy.sh" and loc["in_head"] is False


def test_one_run_over_all_sources_dedups_across_them(demo: Path) -> None:
    doc = scan(
        str(demo / "manifests"),
        f"git:{demo / 'build' / 'repo'}",
        f"docker-archive:{demo / 'build' / 'app-image.tar'}",
    )
    kinds = {f["rule_id"]: {loc["kind"] for loc in f["locations"]} for f in doc["findings"]}
    assert kinds["leakscan.stripe.secret-key"] == {"file", "git"}
    assert kinds["leakscan.aws.access-key-id"] == {"file", "image-layer"}
    assert kinds["leakscan.generic.secret-named-value"] == {"file", "image-config"}
