"""Unreachable objects (what a reset or a rebase leaves) are part of a local history scan by
default, with the dangling commit, its date and the path; ``--no-unreachable`` leaves them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import github_token, write_rules
from tests.sources.git.gitrepo import GitRepo

pytestmark = pytest.mark.timeout(120)


def scan(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(app, ["scan", "git", *args, "-f", "json", "--no-progress"])
    return result.exit_code, json.loads(result.stdout or "{}"), result.output


@pytest.fixture
def reset_repo(tmp_path: Path) -> tuple[GitRepo, str, str]:
    """A repository whose last commit (a token in config/ci.env) was undone by a hard reset."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# demo\n"})
    token = github_token()
    dangling = repo.commit(f"add ci token {github_token()}", {"config/ci.env": f"TOKEN={token}\n"})
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")  # no reflog keeps it reachable
    return repo, token, dangling


def test_dangling_commit_blob_found_by_default_with_commit_date_and_path(
    reset_repo: tuple[GitRepo, str, str], tmp_path: Path
) -> None:
    repo, token, dangling = reset_repo
    rules = write_rules(tmp_path / "rules")
    code, doc, output = scan(str(repo.path), "--rules", str(rules))
    assert code == 1, output
    locs = [loc for f in doc["findings"] for loc in f["locations"] if loc.get("path")]
    (loc,) = [loc for loc in locs if loc["path"] == "config/ci.env"]
    assert any(f["redacted"].endswith(token[-4:]) for f in doc["findings"])
    assert loc["unreachable"] is True and loc["commit"] == dangling and loc["date"]
    messages = [
        loc for f in doc["findings"] for loc in f["locations"] if loc.get("field") == "message"
    ]
    assert messages and messages[0]["commit"] == dangling  # its message, labelled as such
    table = CliRunner().invoke(app, ["scan", "git", str(repo.path), "--rules", str(rules)])
    assert "config/ci.env:1 in unreachable blob" in table.stdout
    assert f"of dangling commit {dangling[:10]}" in table.stdout
    assert "commit message of" in table.stdout


def test_no_unreachable_and_narrowed_scans_leave_them(
    reset_repo: tuple[GitRepo, str, str], tmp_path: Path
) -> None:
    repo, _, _ = reset_repo
    rules = write_rules(tmp_path / "rules")
    code, doc, output = scan(str(repo.path), "--rules", str(rules), "--no-unreachable")
    assert code == 0 and doc["findings"] == [], output
    code, doc, output = scan(str(repo.path), "--rules", str(rules), "--max-depth", "1")
    assert code == 0 and doc["findings"] == [], output


def test_git_prefix_in_a_path_scan_reads_them_too(
    reset_repo: tuple[GitRepo, str, str], tmp_path: Path
) -> None:
    repo, _, dangling = reset_repo
    rules = write_rules(tmp_path / "rules")
    result = CliRunner().invoke(
        app, ["scan", f"git:{repo.path}", "--rules", str(rules), "-f", "json", "--no-progress"]
    )
    assert result.exit_code == 1, result.output
    commits = {
        loc.get("commit") for f in json.loads(result.stdout)["findings"] for loc in f["locations"]
    }
    assert dangling in commits
