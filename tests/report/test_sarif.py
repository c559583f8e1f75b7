"""SARIF as code scanning reads it: one alert per place, rules with help, URIs it resolves."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.model import Finding, Location, Provenance, ScanResult, Stats
from leakscan.report.sarif import SRCROOT, SarifReporter
from tests.helpers import github_token, write_rules
from tests.report.test_ci_reports import official_sarif_schema


def _validate(doc: dict[str, Any]) -> None:
    schema = official_sarif_schema()
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


def _scan(tmp_path: Path, *targets: str) -> dict[str, Any]:
    rules = write_rules(tmp_path / "rules")
    result = CliRunner().invoke(
        app, ["scan", *targets, "--rules", str(rules), "-f", "sarif", "--no-progress"]
    )
    assert result.exit_code == 1, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    _validate(doc)
    return doc


def test_one_secret_in_two_files_is_two_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    token = github_token()
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={token}\n")
    (tmp_path / "b.sh").write_text(f"export GITHUB_TOKEN={token}\necho {token}\n")
    doc = _scan(tmp_path, "a.env", "b.sh")
    results = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "test.github.pat"]
    assert len(results) == 3
    partial = {json.dumps(r["partialFingerprints"]) for r in results}
    assert len(partial) == 3  # one per place: never folded into one alert
    assert len({r["properties"]["fingerprint"] for r in results}) == 1  # one secret


def test_partial_fingerprint_survives_lines_added_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    token = github_token()
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={token}\n")
    before = _scan(tmp_path, "a.env")["runs"][0]["results"][0]
    (tmp_path / "a.env").write_text(f"# a new comment\n\nGITHUB_TOKEN={token}\n")
    after = _scan(tmp_path, "a.env")["runs"][0]["results"][0]
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert after["partialFingerprints"] == before["partialFingerprints"]


def test_rules_carry_help_and_the_provider_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "db.env").write_text(
        "DATABASE_URL=postgres://app:Xk29vLq8ZpW3nR7x@db:5432/app\n"  # leakscan:allow
    )
    doc = _scan(tmp_path, "db.env")
    (rule,) = [
        r
        for r in doc["runs"][0]["tool"]["driver"]["rules"]
        if r["id"] == "leakscan.postgres.connection-url"
    ]
    assert rule["helpUri"].startswith("https://")
    assert "Rotate" in rule["help"]["text"] and "leakscan:allow" in rule["help"]["markdown"]
    (result,) = doc["runs"][0]["results"]
    assert "postgres://app:…@db" in result["message"]["text"]


def test_uris_relative_to_srcroot_inside_and_file_uris_outside(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    finding = Finding(
        "f" * 64, "test.github.pat", "Test GitHub token", "high", "high", "ghp_…abcd", None
    )
    finding.locations = [
        Location(Provenance("file", {"path": str(root / "src" / "a b.py")}), 2, 9),
        Location(Provenance("file", {"path": "/work/elsewhere/.env"}), 1, 1),
        Location(
            Provenance("git", {"repo": "https://h/x.git", "commit": "c" * 40, "path": "k.pem"}), 3
        ),
        Location(
            Provenance("git", {"repo": "r", "commit": "c" * 40, "field": "message", "path": None}),
            1,
        ),
    ]
    doc = json.loads(
        SarifReporter(root=root).render(ScanResult([finding], [], Stats(), rule_references={}))
    )
    _validate(doc)
    run = doc["runs"][0]
    assert run["originalUriBaseIds"][SRCROOT]["uri"] == root.as_uri() + "/"
    places = [r["locations"][0] for r in run["results"]]
    assert places[0]["physicalLocation"]["artifactLocation"] == {
        "uri": "src/a%20b.py",
        "uriBaseId": SRCROOT,
    }
    assert places[1]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///work/elsewhere/.env"
    }
    assert places[2]["physicalLocation"]["artifactLocation"] == {"uri": "k.pem"}
    assert places[3]["logicalLocations"][0]["name"].startswith("commit message of cccccccccc")
    assert "rules" in run["tool"]["driver"] and "helpUri" not in run["tool"]["driver"]["rules"][0]


def test_a_real_consumer_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("sarif") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("sarif-tools (the dev extra) is not installed")
        pytest.skip("sarif-tools not installed (pip install -e '.[dev]')")
    from sarif import loader

    monkeypatch.chdir(tmp_path)
    token = github_token()
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={token}\n")
    (tmp_path / "b.env").write_text(f"TOKEN={token}\n")
    out = tmp_path / "out.sarif"
    out.write_text(json.dumps(_scan(tmp_path, "a.env", "b.env")))
    sarif = loader.load_sarif_file(str(out))
    records = sarif.get_records()
    assert len(records) == 2
    assert {r["Location"] for r in records} == {"a.env", "b.env"}
    assert {r["Severity"] for r in records} == {"error"}
    assert sarif.get_result_count() == 2
