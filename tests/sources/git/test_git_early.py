"""A history walk begun before the scan asks for it (``leakscan scan git`` begins it at
start-up): the report is the one a walk made by the scan gives, and a walk begun for another
target or other options is not used."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app, early
from leakscan.sources.git import prelude
from tests.helpers import github_token
from tests.sources.git.gitrepo import GitRepo

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _collector() -> Iterator[None]:
    """begin() sets the collector's thresholds of a run: this process gets its own back."""
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.commit("start", {"app.py": "x = 1\n"})
    r.commit("token", {"app.py": f'x = 1\nT = "{github_token()}"\n'})
    r.git("checkout", "-q", "-b", "topic")
    r.commit("topic", {"topic.env": f"TOKEN={github_token()}\n"})
    r.git("checkout", "-q", "-")
    r.commit("removed", {"app.py": "x = 2\n"})
    r.git("tag", "v1")
    return r


def _report(argv: list[str], begin: bool) -> tuple[int, dict[str, Any]]:
    if begin:
        early.begin(argv)
    result = CliRunner().invoke(app, argv)
    assert early.take() is None  # what was begun was taken (or nothing was begun)
    doc = json.loads(result.stdout)
    doc["stats"].pop("seconds", None)
    return result.exit_code, doc


@pytest.mark.parametrize(
    "args", [[], ["--max-depth", "2"], ["--branch", "topic"], ["--range", "HEAD~1..HEAD"]]
)
def test_a_walk_begun_early_reports_what_the_scan_s_own_walk_does(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    argv = ["scan", "git", str(repo.path), *args, "-f", "json", "--show-secrets"]
    argv += ["--no-progress", "--rules", str(rules)]
    walks: list[object] = []
    walk_history = prelude.walk_history

    def counted(*a: Any) -> Any:
        walks.append(a)
        return walk_history(*a)

    monkeypatch.setattr(prelude, "walk_history", counted)
    own = _report(argv, begin=False)
    assert len(walks) == 1
    assert _report(argv, begin=True) == own
    assert len(walks) == 2  # the begun walk was used, not walked again
    assert own[1]["findings"] or args


def test_a_walk_begun_for_other_options_is_not_used(repo: GitRepo) -> None:
    begun = prelude.Early(str(repo.path), early.git_options(str(repo.path), max_depth=1))
    target = str(repo.path)
    assert begun.take(target, early.git_options(target)) is None
    other = prelude.Early(str(repo.path), early.git_options(str(repo.path), max_depth=1))
    taken = other.take(target, early.git_options(target, max_depth=1))
    assert taken is not None and len(taken.walk.order) == 1
    taken.close()


def test_a_walk_that_failed_early_fails_again_in_the_scan(tmp_path: Path, rules: Path) -> None:
    argv = ["scan", "git", str(tmp_path), "--no-progress", "--rules", str(rules)]
    early.begin(argv)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "not a git repository" in result.stderr


def test_the_program_begins_the_walk_before_its_commands_are_imported(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import leakscan.cli
    from leakscan.cli import commands

    taken: list[object] = []
    monkeypatch.setattr(sys, "argv", ["leakscan", "scan", "git", str(repo.path)])
    monkeypatch.setattr(commands, "main", lambda: taken.append(early.take()))
    leakscan.cli.main()
    assert len(taken) == 1 and isinstance(taken[0], prelude.Early)
    taken[0].close()
    monkeypatch.setattr(sys, "argv", ["leakscan", "scan", "path", str(repo.path)])
    leakscan.cli.main()
    assert taken[1:] == [None]
