"""`leakscan scan git` on real repositories built with git: history, refs, merges, CI modes."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.model import Blob
from leakscan.sources.git import GitSource
from leakscan.sources.interface import ScanContext, SourceOptions
from tests.helpers import github_token
from tests.sources.git.gitrepo import GitRepo

RULE = "test.github.pat"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "repo")
    r.commit("initial", {"README.md": "# demo\n"})
    return r


def scan(rules: Path, *args: str, code: int | None = 1) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "git",
            *args,
            "-f",
            "json",
            "--show-secrets",
            "--no-progress",
            "--rules",
            str(rules),
        ],
    )
    if code is not None:
        assert result.exit_code == code, result.output
    assert result.stdout, (result.stderr, result.exception)
    return json.loads(result.stdout)


def finding(doc: dict[str, Any], secret: str) -> dict[str, Any]:
    found = [f for f in doc["findings"] if f["rule_id"] == RULE and f.get("secret") == secret]
    assert len(found) == 1, [f.get("secret") for f in doc["findings"]]
    return found[0]


def secrets_of(doc: dict[str, Any]) -> set[str]:
    return {f["secret"] for f in doc["findings"] if f["rule_id"] == RULE}


def test_removed_secret_is_found_at_the_commit_that_added_it(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    added = repo.commit("add config", {"config.env": f"GITHUB_TOKEN={token}\n"})
    date = repo.time - 60
    repo.commit("remove config", {"config.env": None})
    doc = scan(rules, str(repo.path))
    (loc,) = finding(doc, token)["locations"]
    assert loc["kind"] == "git"
    assert loc["commit"] == added
    assert loc["path"] == "config.env"
    assert loc["line"] == 1
    assert loc["in_head"] is False
    assert loc["author"] == "Dev One <dev@example.com>"
    assert loc["date"].startswith("2023-11-14T22:")  # the adding commit's date, ISO 8601
    assert date == 1_700_000_060
    assert loc["refs"] == ["refs/heads/main"]


def test_secret_still_in_head_says_so(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.commit("add", {"app/settings.py": f"TOKEN = '{token}'\n"})
    (loc,) = finding(scan(rules, str(repo.path)), token)["locations"]
    assert loc["in_head"] is True and loc["path"] == "app/settings.py"


def test_secret_only_on_an_unmerged_branch(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.git("checkout", "-q", "-b", "feature")
    commit = repo.commit("wip", {"wip.txt": f"token {token}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main moves on", {"README.md": "# demo 2\n"})
    (loc,) = finding(scan(rules, str(repo.path)), token)["locations"]
    assert loc["commit"] == commit
    assert loc["refs"] == ["refs/heads/feature"]
    assert loc["in_head"] is False


def test_secret_only_in_an_annotated_tag_and_its_message(repo: GitRepo, rules: Path) -> None:
    in_file, in_message = github_token(), github_token()
    repo.git("checkout", "-q", "-b", "release")
    commit = repo.commit("release build", {"build.cfg": f"token={in_file}\n"})
    repo.git("tag", "-a", "v1.0", "-m", f"release notes\ndeploy with {in_message}\n")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "release")
    doc = scan(rules, str(repo.path))
    (loc,) = finding(doc, in_file)["locations"]
    assert loc["commit"] == commit and loc["refs"] == ["refs/tags/v1.0"]
    (tag_loc,) = finding(doc, in_message)["locations"]
    assert tag_loc["field"] == "tag-message"
    assert tag_loc["ref"] == "refs/tags/v1.0"
    assert tag_loc["line"] == 2
    assert tag_loc["author"] == "Dev One <dev@example.com>"


def test_secret_introduced_by_a_merge_is_attributed_to_the_merge(
    repo: GitRepo, rules: Path
) -> None:
    from_side, evil = github_token(), github_token()
    repo.git("checkout", "-q", "-b", "side")
    side_commit = repo.commit("side work", {"side.txt": f"key {from_side}\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"main.txt": "main\n"})
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side")
    repo.write({"main.txt": f"main\nslipped in during the merge {evil}\n"})
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "Merge branch side")
    merge = repo.git("rev-parse", "HEAD")
    doc = scan(rules, str(repo.path))
    (evil_loc,) = finding(doc, evil)["locations"]
    assert evil_loc["commit"] == merge and evil_loc["path"] == "main.txt"
    assert evil_loc["line"] == 2 and evil_loc["in_head"] is True
    (side_loc,) = finding(doc, from_side)["locations"]
    assert side_loc["commit"] == side_commit  # came in unchanged through the merge
    assert side_loc["refs"] == ["refs/heads/main", "refs/heads/side"]


def test_renamed_file_is_one_finding_with_both_paths(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    first = repo.commit("add", {"old/name.env": f"T={token}\n"})
    repo.git("mv", "old/name.env", "new.env")
    second = repo.commit("rename")
    f = finding(scan(rules, str(repo.path)), token)
    where = {(loc["path"], loc["commit"], loc["in_head"]) for loc in f["locations"]}
    assert where == {("old/name.env", first, False), ("new.env", second, True)}


def test_secret_in_the_stash(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.write({"README.md": f"# demo\ntoken: {token}\n"})
    repo.git("stash", "push", "-q", "-m", "later")
    assert (repo.path / "README.md").read_text() == "# demo\n"
    (loc,) = finding(scan(rules, str(repo.path)), token)["locations"]
    assert loc["path"] == "README.md" and loc["in_head"] is False
    assert "refs/stash" in loc["refs"]


def test_older_stash_entries_are_scanned(repo: GitRepo, rules: Path) -> None:
    older, newer = github_token(), github_token()
    repo.write({"README.md": f"{older}\n"})
    repo.git("stash", "push", "-q")
    repo.write({"README.md": f"{newer}\n"})
    repo.git("stash", "push", "-q")
    doc = scan(rules, str(repo.path))
    assert {older, newer} <= secrets_of(doc)
    assert "stash@{1}" in finding(doc, older)["locations"][0]["refs"]


def test_secret_in_a_commit_message(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    commit = repo.commit(f"fix login\n\ntemporary token {token} for the demo\n")
    (loc,) = finding(scan(rules, str(repo.path)), token)["locations"]
    assert loc["field"] == "message" and loc["commit"] == commit
    assert loc["line"] == 3
    assert "path" not in loc


def test_same_content_on_two_branches_is_read_once(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    content = f"SHARED_TOKEN={token}\n"
    repo.git("checkout", "-q", "-b", "a")
    repo.commit("a", {"a/secret.env": content})
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", "b")
    repo.commit("b", {"b/secret.env": content})
    doc = scan(rules, str(repo.path))
    f = finding(doc, token)
    assert sorted(loc["path"] for loc in f["locations"]) == ["a/secret.env", "b/secret.env"]
    assert {tuple(loc["refs"]) for loc in f["locations"]} == {("refs/heads/a",), ("refs/heads/b",)}
    # through the source: the blob's bytes are handed over once, the other place by digest
    source = GitSource(str(repo.path), SourceOptions())
    items = [b for b in source.blobs(ScanContext()) if isinstance(b, Blob)]
    oid = repo.git("rev-parse", "a:a/secret.env")
    same = [b for b in items if b.digest == f"git:{oid}"]
    assert len(same) == 2 and sum(b.data is not None for b in same) == 1
    with_data = [b.digest for b in items if b.digest and b.data is not None]
    assert len(with_data) == len(set(with_data))
    # README.md and the shared file: two blobs read, in one cat-file process
    assert source.blob_reads == 2
    # scanned: README.md, the shared file and three commit messages; the second place of the
    # shared file is a cache hit, not a second scan
    assert doc["stats"]["blobs"] == 5
    assert doc["stats"]["cached_blobs"] == 1


def test_shallow_clone_warns_history_is_incomplete(
    repo: GitRepo, rules: Path, tmp_path: Path
) -> None:
    old, new = github_token(), github_token()
    repo.commit("old", {"old.txt": f"{old}\n"})
    repo.commit("new", {"new.txt": f"{new}\n"})
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)],
        check=True,
        capture_output=True,
    )
    doc = scan(rules, str(clone))
    assert secrets_of(doc) == {old, new}  # both still in the checked-out tree
    reasons = [s["reason"] for s in doc["skipped"]]
    assert any(r.startswith("shallow clone: history before commit") for r in reasons), reasons


def test_range_and_since_commit_scan_only_what_the_branch_adds(repo: GitRepo, rules: Path) -> None:
    before, added = github_token(), github_token()
    base = repo.commit("base", {"base.env": f"{before}\n"})
    repo.git("checkout", "-q", "-b", "pr")
    repo.commit("pr 1", {"pr.env": f"{added}\n"})
    repo.commit("pr 2", {"other.txt": "nothing\n"})
    doc = scan(rules, str(repo.path), "--range", f"{base}..pr")
    assert secrets_of(doc) == {added}
    doc = scan(rules, str(repo.path), "--since-commit", base)
    assert secrets_of(doc) == {added}
    doc = scan(rules, str(repo.path), "--range", "pr..main", code=0)
    assert secrets_of(doc) == set()
    doc = scan(rules, str(repo.path), "--branch", "main")
    assert secrets_of(doc) == {before}
    doc = scan(rules, str(repo.path), "--branch", "pr", "--max-depth", "1", code=0)
    assert secrets_of(doc) == set()


def test_staged_scans_what_is_about_to_be_committed(repo: GitRepo, rules: Path) -> None:
    committed, staged, unstaged = github_token(), github_token(), github_token()
    repo.commit("old", {"old.env": f"{committed}\n"})
    repo.write({"new.env": f"TOKEN={staged}\n", "scratch.txt": f"{unstaged}\n"})
    repo.git("add", "new.env")
    doc = scan(rules, str(repo.path), "--staged")
    assert secrets_of(doc) == {staged}
    (loc,) = finding(doc, staged)["locations"]
    assert loc["path"] == "new.env" and loc["staged"] is True
    repo.git("reset", "-q")
    scan(rules, str(repo.path), "--staged", code=0)


def test_staged_reports_what_the_commit_adds_to_an_edited_file(repo: GitRepo, rules: Path) -> None:
    old, new = github_token(), github_token()
    body = [f"line {i}" for i in range(1, 21)]
    body[2] = f"OLD_TOKEN={old}"
    repo.commit("old", {"app.env": "\n".join(body) + "\n"})
    body[10] = "line 11: edited"  # staged: an edit that adds no secret
    repo.write({"app.env": "\n".join(body) + "\n"})
    repo.git("add", "app.env")
    scan(rules, str(repo.path), "--staged", code=0)  # the committed token is not this commit's
    body[15] = f"NEW_TOKEN={new}"
    repo.write({"app.env": "\n".join(body) + "\n"})
    repo.git("add", "app.env")
    doc = scan(rules, str(repo.path), "--staged")
    assert secrets_of(doc) == {new}
    (loc,) = finding(doc, new)["locations"]
    assert loc["path"] == "app.env" and loc["line"] == 16 and loc["staged"] is True


def test_staged_before_the_first_commit(tmp_path: Path, rules: Path) -> None:
    fresh = GitRepo(tmp_path / "fresh")
    token = github_token()
    fresh.write({"a.txt": f"{token}\n"})
    fresh.git("add", "a.txt")
    assert secrets_of(scan(rules, str(fresh.path), "--staged")) == {token}


def test_file_url_is_cloned_into_a_temporary_mirror(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("t", {"t.txt": f"{token}\n"})
    repo.commit("t2", {"t.txt": None})
    repo.git("checkout", "-q", "main")
    before = set(Path(tempfile.gettempdir()).glob("leakscan-git-*"))
    doc = scan(rules, f"file://{repo.path}")
    (loc,) = finding(doc, token)["locations"]
    assert loc["repo"] == f"file://{repo.path}"
    assert loc["refs"] == ["refs/heads/topic"]
    # no mirror of this scan left behind (other processes on the machine may make and remove
    # their own meanwhile)
    assert not set(Path(tempfile.gettempdir()).glob("leakscan-git-*")) - before


def test_all_objects_adds_dangling_blobs(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    loose = repo.path / "loose.txt"
    loose.write_text(f"{token}\n")
    oid = repo.git("hash-object", "-w", str(loose))
    loose.unlink()
    assert token not in secrets_of(scan(rules, str(repo.path), "--no-unreachable", code=0))
    (loc,) = finding(scan(rules, str(repo.path), "--all-objects"), token)["locations"]
    assert loc["unreachable"] is True and loc["object"] == oid
    assert finding(scan(rules, str(repo.path)), token)["locations"] == [loc]  # the default


def test_missing_object_is_reported_and_the_scan_goes_on(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.commit("a", {"a.txt": f"{token}\n", "b.txt": "will go missing\n"})
    oid = repo.git("rev-parse", "HEAD:b.txt")
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    result = CliRunner().invoke(
        app, ["scan", "git", str(repo.path), "-f", "json", "--show-secrets", "--rules", str(rules)]
    )
    doc = json.loads(result.stdout)
    assert token in secrets_of(doc)
    assert any("object missing" in s["reason"] and "b.txt" in s["where"] for s in doc["skipped"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}"], "not a git repository"),
        (["{repo}", "--range", "main..nope"], "bad revision in range"),
        (["{repo}", "--range", "nothing"], "bad range"),
        (["{repo}", "--since-commit", "deadbeef"], "bad revision"),
        (["{repo}", "--branch", "--all"], "bad revision"),
        (["file:///nonexistent/repo.git"], "cannot clone"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    repo: GitRepo, rules: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    empty = tmp_path / "plain"
    empty.mkdir()
    argv = [a.format(tmp=empty, repo=repo.path) for a in args]
    result = CliRunner().invoke(app, ["scan", "git", *argv, "--rules", str(rules)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((Path(__file__).parents[3] / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "leakscan"]
    assert hook["entry"] == "leakscan scan git --staged ."
    assert hook["language"] == "python" and hook["pass_filenames"] is False


def test_corrupt_history_is_an_error_exit_2(repo: GitRepo, rules: Path) -> None:
    token = github_token()
    repo.commit("a", {"a.txt": f"{token}\n"})
    repo.commit("b", {"sub/b.txt": "b\n"})
    tree = repo.git("rev-parse", "HEAD:sub")
    (repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    result = CliRunner().invoke(
        app, ["scan", "git", str(repo.path), "-f", "json", "--show-secrets", "--rules", str(rules)]
    )
    assert result.exit_code == 2, result.output
    doc = json.loads(result.stdout)  # the report is still written
    (error,) = doc["errors"]
    assert "history walk stopped" in error
