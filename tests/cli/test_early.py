"""The command line read before the imports (``leakscan.cli.early``): its reading of ``scan
git`` agrees with the command's own, and it begins nothing for anything else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from leakscan.cli import app, early, scan_git
from leakscan.sources.git import GitOptions, GitSource
from leakscan.sources.interface import SourceOptions


def _scan_git_options() -> tuple[set[str], set[str]]:
    """(options taking a value, flags) of the ``scan git`` command as typer builds it."""
    command = typer.main.get_command(app)
    git = command.commands["scan"].commands["git"]  # type: ignore[attr-defined]
    values: set[str] = set()
    flags: set[str] = set()
    for param in git.params:
        if param.param_type_name != "option":
            continue
        names = {*param.opts, *param.secondary_opts}
        (flags if param.is_flag or param.count else values).update(names)
    return values, flags


def test_the_tables_are_the_options_of_scan_git() -> None:
    values, flags = _scan_git_options()
    assert early.VALUE_OPTIONS == values
    assert early.FLAG_OPTIONS == flags


def _parsed(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, GitOptions]:
    """(target, options) of the source the ``scan git`` command itself makes of ``args``."""
    made: list[tuple[str, GitOptions]] = []

    def run_scan(sources: Callable[[SourceOptions], list[GitSource]], opts: object) -> None:
        made.extend((source.target, source.git) for source in sources(SourceOptions()))

    monkeypatch.setattr(scan_git, "run_scan", run_scan)
    result = CliRunner().invoke(app, ["scan", "git", *args])
    assert result.exit_code == 0, result.output
    [parsed] = made
    return parsed


@pytest.mark.parametrize(
    "args",
    [
        ["repo"],
        ["repo", "-f", "json", "-o", "out.json", "--no-progress"],
        ["--format=sarif", "-vv", "-j2", "repo"],
        ["repo", "--branch", "a", "--branch=b"],
        ["repo", "--max-depth", "3", "--max-depth", "5"],
        ["repo", "--range", "v1..HEAD"],
        ["repo", "--since-commit", "HEAD~2"],
        ["repo", "--unreachable"],
        ["repo", "--all-objects", "--branch", "main"],
        ["--", "-odd-name"],
    ],
)
def test_a_scan_git_command_line_is_read_as_the_command_reads_it(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert early.request(["scan", "git", *args]) == _parsed(args, monkeypatch)


@pytest.mark.parametrize(
    "args", [[], ["--no-unreachable"], ["--max-depth", "2"], ["--unreachable", "--range", "a..b"]]
)
def test_unreachable_objects_of_a_local_whole_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    argv = [str(tmp_path), *args]
    asked = early.request(["scan", "git", *argv])
    assert asked == _parsed(argv, monkeypatch)
    assert asked is not None and asked[1].all_objects == (args == [])


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["scan", "repo"],
        ["scan", "image", "x.tar"],
        ["--version"],
        ["scan", "git"],
        ["scan", "git", "repo", "--help"],
        ["scan", "git", "repo", "-h"],
        ["scan", "git", "repo", "other"],
        ["scan", "git", "repo", "--staged"],
        ["scan", "git", "repo", "--range", "a..b", "--since-commit", "c"],
        ["scan", "git", "repo", "--max-depth", "0"],
        ["scan", "git", "repo", "--max-depth", "many"],
        ["scan", "git", "repo", "--some-new-option"],
        ["scan", "git", "repo", "--no-progress=yes"],
        ["scan", "git", "repo", "-o"],
        ["scan", "git", "repo", "--unreachable", "--no-unreachable"],
    ],
)
def test_nothing_is_begun_for_other_command_lines(argv: list[str]) -> None:
    assert early.request(argv) is None
