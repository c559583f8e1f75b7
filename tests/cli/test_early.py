"""The command line read before the imports (``leakscan.cli.early``): its reading of ``scan
git`` agrees with the command's own, and it begins nothing for anything else."""

from __future__ import annotations

import pytest
import typer.main

from leakscan.cli import app, early
from leakscan.sources.git import GitOptions


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


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["repo"], GitOptions()),
        (["repo", "-f", "json", "-o", "out.json", "--no-progress"], GitOptions()),
        (["--format=sarif", "-vv", "-j2", "repo"], GitOptions()),
        (["repo", "--branch", "a", "--branch=b"], GitOptions(branches=("a", "b"))),
        (["repo", "--max-depth", "3", "--max-depth", "5"], GitOptions(max_depth=5)),
        (["repo", "--range", "v1..HEAD"], GitOptions(range="v1..HEAD")),
        (["repo", "--since-commit", "HEAD~2"], GitOptions(since_commit="HEAD~2")),
        (["--", "-odd-name"], GitOptions()),
    ],
)
def test_a_scan_git_command_line_is_read_as_the_command_reads_it(
    args: list[str], options: GitOptions
) -> None:
    target = next(a for a in args if a in ("repo", "-odd-name"))
    assert early.request(["scan", "git", *args]) == (target, options)


def test_unreachable_objects_of_a_local_whole_history(tmp_path: object) -> None:
    assert early.request(["scan", "git", str(tmp_path)]) == (
        str(tmp_path),
        GitOptions(all_objects=True),
    )
    assert early.request(["scan", "git", str(tmp_path), "--no-unreachable"]) == (
        str(tmp_path),
        GitOptions(),
    )
    assert early.request(["scan", "git", str(tmp_path), "--max-depth", "2"]) == (
        str(tmp_path),
        GitOptions(max_depth=2),
    )


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
