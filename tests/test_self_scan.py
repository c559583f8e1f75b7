"""leakscan scans its own repository (rules and fixtures excluded) and finds nothing.

Synthetic secrets in the tests carry a ``leakscan:allow`` marker, as a team would mark theirs.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leakscan.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = (
    "patterns",
    "fixtures",
    "judgements",  # bench/judgements quote the documentation examples they judge
    ".venv",
    "work",
    "*_cache",
    ".hypothesis",
    "__pycache__",
    "*.egg-info",
    "build",
    "dist",
)


def test_the_repository_has_no_secrets() -> None:
    args = ["scan", str(ROOT), "-f", "json"]
    for glob in EXCLUDED:
        args += ["--exclude", glob]
    result = CliRunner().invoke(app, args)
    doc = json.loads(result.stdout)
    where = [(f["rule_id"], [loc.get("path") for loc in f["locations"]]) for f in doc["findings"]]
    assert result.exit_code == 0, where
    assert doc["stats"]["blobs"] > 100
