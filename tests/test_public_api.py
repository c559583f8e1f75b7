"""The public surface, pinned: a change here is a change users and other tools will notice."""

from __future__ import annotations

from typer.testing import CliRunner

import leakscan
import leakscan.api
from leakscan.cli import app


def test_api_exports() -> None:
    assert leakscan.__all__ == ["__version__"]
    assert sorted(leakscan.api.__all__) == ["ScanConfig", "Scanner", "load_detector", "scan"]


def test_commands() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"]).output
    for command in ("scan", "rules", "audit", "baseline", "config", "watch"):
        assert command in top
    scan_help = runner.invoke(app, ["scan", "--help"]).output
    for command in ("path", "image", "container", "git", "env"):
        assert command in scan_help
    rules_help = runner.invoke(app, ["rules", "--help"]).output
    for command in ("list", "show", "test", "import"):
        assert command in rules_help


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"leakscan {leakscan.__version__}"
