"""Help screens without type tags; ``scan --help`` shows what a path scan takes."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from leakscan.cli import app

runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})
TAGS = re.compile(r"<(?:bool|str|int|float|path|Path|list\[[^\]]*\])>|\{[a-z_]+\}")


@pytest.mark.parametrize(
    "command",
    [[], ["scan"], ["scan", "path"], ["scan", "git"], ["scan", "image"], ["scan", "env"],
     ["audit"], ["baseline", "create"], ["rules"]],
)  # fmt: skip
def test_help_has_no_type_tags(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert not TAGS.search(result.output), TAGS.findall(result.output)


def test_scan_help_lists_the_options_of_a_path_scan() -> None:
    text = runner.invoke(app, ["scan", "--help"]).output
    for flag in ("--format", "--report", "--exclude", "--min-confidence", "--baseline"):
        assert flag in text, flag
    assert "git" in text and "image" in text  # the subcommands are still listed
    assert "FORMAT[=FILE]" in text and "--output" in text
