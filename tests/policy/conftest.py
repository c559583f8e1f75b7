"""A project folder in tmp with the test rules, and a CLI runner working inside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import write_rules

# the tests' own rules only, whatever the builtin set holds today
ONLY_TEST_RULES = 'enable = ["test.github.*", "test.aws.*", "leakscan.generic.test-*"]\n'


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.rules = write_rules(root / "rules")
        self.runner = CliRunner()
        self.config()

    def config(self, text: str = "") -> Path:
        """Write leakscan.toml: the test-rules restriction plus ``text``."""
        return self.write("leakscan.toml", ONLY_TEST_RULES + text)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def run(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args))

    def scan(self, *args: str) -> Any:
        return self.run("scan", *args, "--rules", "rules", "--no-progress")

    def scan_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.scan(*args, "--format", "json", "--output", "report.json")
        assert result.exit_code in (0, 1), result.output
        return result.exit_code, json.loads((self.root / "report.json").read_text())


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def secrets_in(doc: dict[str, Any]) -> set[str]:
    """The redacted values of a JSON report's findings."""
    return {f["redacted"] for f in doc["findings"]}
