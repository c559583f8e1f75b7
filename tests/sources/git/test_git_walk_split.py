"""A long history is diffed by two git processes at once (its commits listed first): the
report is the one a single walk gives, for every way of narrowing the walk, and a damaged
history is still an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leakscan.sources.git import history
from tests.helpers import github_token
from tests.sources.git.gitrepo import GitRepo, report, scan_argv

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """A main line, a topic branch merged back (with a change of the merge's own), a tag and
    tokens written and removed along the way."""
    r = GitRepo(tmp_path / "repo")
    r.commit("start", {"app.py": "x = 1\n", "README.md": "# demo\n"})
    r.commit("token", {"app.py": f'x = 1\nT = "{github_token()}"\n'})
    r.git("checkout", "-q", "-b", "topic")
    r.commit("topic 1", {"topic.env": f"TOKEN={github_token()}\n"})
    r.commit("topic 2", {"topic.env": None, "notes.txt": "notes\n"})
    r.git("checkout", "-q", "-")
    r.commit("main goes on", {"app.py": "x = 2\n"})
    r.git("merge", "-q", "--no-ff", "--no-commit", "topic")
    r.write({"merged.cfg": f"password = {github_token()}\n"})
    r.git("add", "-A")
    r.git("commit", "-q", "-m", "merge topic")
    r.git("tag", "v1")
    r.commit("after", {"late.txt": f"{github_token()}\n"})
    return r


def _report(repo: GitRepo, rules: Path, args: list[str]) -> tuple[int, dict[str, Any]]:
    return report(scan_argv(repo, rules, *args))


@pytest.mark.parametrize(
    "args", [[], ["--max-depth", "3"], ["--branch", "topic"], ["--since-commit", "HEAD~3"]]
)
def test_a_split_walk_reports_what_one_walk_does(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setattr(history, "SPLIT_FROM", 10**9)
    one = _report(repo, rules, args)
    monkeypatch.setattr(history, "SPLIT_FROM", 0)
    monkeypatch.setattr(history, "_cores", lambda: 2)
    assert _report(repo, rules, args) == one
    assert one[1]["findings"]


def test_a_split_walk_of_a_damaged_history_is_an_error(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit("sub", {"sub/b.txt": "b\n"})
    repo.commit("last", {"z.txt": "z\n"})
    tree = repo.git("rev-parse", "HEAD~1:sub")
    (repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    monkeypatch.setattr(history, "SPLIT_FROM", 0)
    monkeypatch.setattr(history, "_cores", lambda: 2)
    code, doc = _report(repo, rules, [])
    assert code == 2
    (error,) = doc["errors"]
    assert "history walk stopped" in error
    assert doc["findings"]  # what was walked is still reported
