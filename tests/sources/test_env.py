"""``leakscan scan env``: the process environment, or KEY=VALUE lines from a file or stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.model import Blob
from leakscan.sources.env import EnvFileSource, ProcessEnvSource
from leakscan.sources.interface import ScanContext, SourceOptions
from tests.helpers import github_token, password
from tests.sources.manifests.conftest import RULES

runner = CliRunner()


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(RULES)
    return directory


def _json(result: Any) -> dict[str, Any]:
    assert "Traceback" not in result.output
    return json.loads(result.stdout)


def test_process_environment(monkeypatch: pytest.MonkeyPatch, rules_dir: Path) -> None:
    secret, token = password(), github_token()
    monkeypatch.setenv("LEAKSCAN_TEST_DB_PASSWORD", secret)
    monkeypatch.setenv("LEAKSCAN_TEST_CI_VALUE", token)
    monkeypatch.setenv("LEAKSCAN_TEST_REF_PASSWORD", "${DB_PASSWORD}")
    result = runner.invoke(app, ["scan", "env", "--rules", str(rules_dir), "-f", "json"])
    assert result.exit_code == 1, result.output
    doc = _json(result)
    names = {loc.get("name"): f for f in doc["findings"] for loc in f["locations"]}
    assert names["LEAKSCAN_TEST_DB_PASSWORD"]["rule_id"] == "test.context-secret"
    assert names["LEAKSCAN_TEST_CI_VALUE"]["rule_id"] == "test.github"
    assert "LEAKSCAN_TEST_REF_PASSWORD" not in names
    loc = names["LEAKSCAN_TEST_DB_PASSWORD"]["locations"][0]
    assert loc["kind"] == "env" and loc["name"] == "LEAKSCAN_TEST_DB_PASSWORD"
    # values are redacted: neither secret in the output, the names are
    assert secret not in result.output and token not in result.output


def test_table_shows_names_not_values(monkeypatch: pytest.MonkeyPatch, rules_dir: Path) -> None:
    secret = password()
    monkeypatch.setenv("LEAKSCAN_TEST_API_TOKEN", secret)
    result = runner.invoke(app, ["scan", "env", "--rules", str(rules_dir)])
    assert result.exit_code == 1
    assert "LEAKSCAN_TEST_API_TOKEN" in result.output and secret not in result.output


def test_from_file_and_stdin(tmp_path: Path, rules_dir: Path) -> None:
    secret, token = password(), github_token()
    text = (
        f"# exported by CI\nexport DB_PASSWORD='{secret}'\n\nHOME=/root\n"
        f"GITHUB_TOKEN={token}\nREF_TOKEN=${{GITHUB_TOKEN}}\nEMPTY_SECRET=\n"
    )
    env_file = tmp_path / "ci.env"
    env_file.write_text(text)
    for args, kwargs, where in (
        (["--from-file", str(env_file)], {}, str(env_file)),
        (["--from-file", "-"], {"input": text}, "-"),
    ):
        result = runner.invoke(
            app,
            ["scan", "env", *args, "--rules", str(rules_dir), "-f", "json", "--show-secrets"],
            **kwargs,
        )
        assert result.exit_code == 1, result.output
        found = {f["secret"]: f["locations"] for f in _json(result)["findings"]}
        assert found[secret] == [{"kind": "env", "file": where, "name": "DB_PASSWORD", "line": 2}]
        assert found[token] == [{"kind": "env", "file": where, "name": "GITHUB_TOKEN", "line": 5}]
        assert len(found) == 2


def test_from_file_errors(tmp_path: Path, rules_dir: Path) -> None:
    result = runner.invoke(app, ["scan", "env", "--from-file", str(tmp_path / "nope.env")])
    assert result.exit_code == 2
    assert "nope.env: no such file" in result.output and "Traceback" not in result.output
    binary = tmp_path / "bin.env"
    binary.write_bytes(b"\x00\x01\x02\xff" * 100)
    result = runner.invoke(app, ["scan", "env", "--from-file", str(binary), "-f", "json"])
    assert result.exit_code == 0
    (skip,) = _json(result)["skipped"]
    assert skip["where"] == str(binary) and "binary" in skip["reason"]


def test_sources_give_key_names_as_context(tmp_path: Path) -> None:
    blobs = list(
        ProcessEnvSource(SourceOptions(), {"A_TOKEN": "v1", "EMPTY": " "}).blobs(ScanContext())
    )
    assert [(b.context, b.data) for b in blobs if isinstance(b, Blob)] == [("A_TOKEN", b"v1")]
    (tmp_path / "x.env").write_text('A="multi\nline"\nB=2 # c\n')
    got = [
        (b.context, b.data, b.provenance.line)
        for b in EnvFileSource(str(tmp_path / "x.env"), SourceOptions()).blobs(ScanContext())
        if isinstance(b, Blob)
    ]
    assert got == [("A", b"multi\nline", 1), ("B", b"2", 3)]
