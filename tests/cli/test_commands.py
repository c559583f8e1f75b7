"""A scan builds only the command it runs (``leakscan.cli.commands``); what a person sees is
the same as with every command built: help screens, errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from leakscan.cli import app, commands

runner = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})


def test_the_table_names_the_module_of_each_scan_command() -> None:
    full = typer.main.get_command(app).commands["scan"].commands  # type: ignore[attr-defined]
    assert set(commands.SCAN_COMMANDS) == set(full)
    for name, module in commands.SCAN_COMMANDS.items():
        alone = typer.main.get_command(commands.build([module]))
        assert set(alone.commands["scan"].commands) == {name}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (["scan", "git", "."], ("scan_git",)),
        (["scan", "image", "--help"], ("scan_image",)),
        (["scan", "."], ("scan_path",)),
        (["scan", "--format", "json", "."], ("scan_path",)),  # sent to `scan path`
        (["scan", "git"], ("scan_git",)),
        (["scan"], commands._COMMAND_MODULES),
        (["scan", "--help"], commands._COMMAND_MODULES),
        (["scan", "-h"], commands._COMMAND_MODULES),
        (["rules", "list"], commands._COMMAND_MODULES),
        (["--version"], commands._COMMAND_MODULES),
        ([], commands._COMMAND_MODULES),
    ],
)
def test_the_modules_a_command_line_needs(args: list[str], modules: tuple[str, ...]) -> None:
    assert commands.modules_for(args) == modules


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "path", "--help"],
        ["scan", "git", "--help"],
        ["scan", "image", "--help"],
        ["scan", "env", "--help"],
        ["scan", "container", "--help"],
        ["scan", "--no-such-option", "x"],
        ["scan", "git", "--no-such-option"],
        ["scan", "git"],
        ["scan", "path"],
        ["scan", "--jobs", "many", "x"],
        ["scan", "--format", "nope", "."],
        ["scan", "/no/such/path"],
    ],
)
def test_a_command_built_alone_says_what_the_whole_program_says(args: list[str]) -> None:
    alone = runner.invoke(commands.build(commands.modules_for(args)), args)
    whole = runner.invoke(app, args)
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)
    assert commands.modules_for(args) != commands._COMMAND_MODULES


def test_a_json_scan_imports_only_what_it_uses(tmp_path: Path) -> None:
    """The other commands, reporters and parsers stay unimported by a scan that needs none
    of them (a CI step's start-up)."""
    (tmp_path / "app.py").write_text("print('hello')\n")
    listing = tmp_path / "modules.txt"
    code = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        f"sys.argv = ['leakscan', 'scan', {str(tmp_path / 'app.py')!r}, '-f', 'json']\n"
        "runpy.run_module('leakscan.cli', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=os.environ,
        cwd=tmp_path,  # no pyproject.toml to read there
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(listing.read_text().split())
    assert "leakscan.cli.scan_path" in loaded and "leakscan.report.json_report" in loaded
    unused = {
        "leakscan.cli.audit",
        "leakscan.cli.watch",
        "leakscan.cli.rules",
        "leakscan.cli.scan_image",
        "leakscan.report.table",
        "leakscan.report.sarif",
        "leakscan.report.junit",
        "leakscan.report.html",
        "leakscan.sources.git",  # cli/early's reading of a `scan git` command line only
        "yaml",
        "tomllib",
        "xml.etree.ElementTree",
        "pydantic",
    }
    assert not unused & loaded, sorted(unused & loaded)
