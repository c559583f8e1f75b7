"""The JSON report follows its documented, versioned schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

import leakscan.report
from leakscan.cli import app
from tests.helpers import aws_key_id, github_token, write_rules

SCHEMA = json.loads((Path(leakscan.report.__file__).parent / "schema.json").read_text())


def test_json_report_validates_against_the_schema(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    (tmp_path / "a.env").write_text(f"T={github_token()}\nK={aws_key_id()}\n")
    result = CliRunner().invoke(
        app,
        ["scan", str(tmp_path / "a.env"), "--rules", str(rules), "-f", "json", "--show-secrets"],
    )
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert len(doc["findings"]) == 2


def test_schema_rejects_a_document_without_findings() -> None:
    import pytest

    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "tool": {}, "skipped": [], "stats": {}}, SCHEMA)
