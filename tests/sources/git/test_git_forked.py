"""Blobs read in a child process (many blobs, two cores) give the report read here gives.

What a user sees: the same findings at the same commits and lines, the same skips, the same
errors, whichever process read the history's blobs.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from leakscan.api import ScanConfig, scan
from leakscan.model import Blob
from leakscan.policy.policy import Policy
from leakscan.report.json_report import JsonReporter
from leakscan.sources.git import GitSource, forked
from leakscan.sources.git import source as git_source
from leakscan.sources.interface import ScanContext, SourceError, SourceOptions
from tests.helpers import github_token
from tests.sources.git.gitrepo import GitRepo, report, scan_argv

pytestmark = pytest.mark.timeout(120)


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, text)
    return buf.getvalue()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """Edits, a new file, a removal, a zip with a token inside, a binary file, a rename and
    an object gone missing."""
    r = GitRepo(tmp_path / "repo")
    body = [f"line {i}: nothing secret here" for i in range(40)]
    r.commit("add", {"app.py": "\n".join(body) + "\n", "README.md": "# demo\n"})
    body[20] = f'TOKEN = "{github_token()}"'
    r.commit("edit", {"app.py": "\n".join(body) + "\n"})
    body[3] = "an unrelated edit"
    r.commit("edit again", {"app.py": "\n".join(body) + "\n", "new.env": f"T={github_token()}\n"})
    r.commit("remove", {"new.env": None})
    r.commit("rename", {"README.md": None, "docs/README.md": "# demo\n"})
    r.commit("more", {"gone.txt": "will go missing\n"})
    (r.path / "bundle.zip").write_bytes(_zip("config.env", f"T={github_token()}\n"))
    (r.path / "blob.bin").write_bytes(bytes(range(256)) * 8)
    r.commit("binary files")
    oid = r.git("rev-parse", "HEAD:gone.txt")
    (r.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    return r


def _report(repo: GitRepo, rules: Path) -> tuple[int, dict[str, Any]]:
    return report(scan_argv(repo, rules))


def test_the_report_is_the_same_when_a_child_process_reads_the_blobs(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, here = _report(repo, rules)
    monkeypatch.setattr(forked, "FORK_FROM_BLOBS", 0)
    assert _report(repo, rules) == (code, here)
    assert len(here["findings"]) == 3 and any(
        "object missing" in s["reason"] for s in here["skipped"]
    )


def _contents(source: GitSource) -> list[tuple[str | None, str | None, bytes | None]]:
    out = []
    for item in source.blobs(ScanContext()):
        if isinstance(item, Blob):
            content = item.data if item.stream is None else item.stream.read()
            out.append((item.provenance.fields.get("path"), item.digest, content))
    return out


def test_streamed_blobs_come_through_the_child_whole(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = "".join(f"row {i}: {'x' * 60}\n" for i in range(2000))  # over the in-memory limit
    repo.commit("big", {"big.csv": big, "other.txt": "after the big one\n"})
    options = SourceOptions(in_memory_bytes=4096)
    here = GitSource(str(repo.path), options)
    expected = _contents(here)
    monkeypatch.setattr(forked, "FORK_FROM_BLOBS", 0)
    child = GitSource(str(repo.path), options)
    assert _contents(child) == expected
    assert child.blob_reads == here.blob_reads
    assert any(content == big.encode() for _, _, content in expected)


@pytest.mark.parametrize("child_scans", [False, True])
def test_an_error_while_reading_in_the_child_is_the_error_read_here_gives(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch, child_scans: bool
) -> None:
    event = git_source.GitSource._event
    calls = []

    def broken(self: git_source.GitSource, *args: Any) -> Any:
        calls.append(1)
        if len(calls) > 3:  # a few blobs are read (and scanned) first
            raise SourceError("repo: git cat-file output out of step")
        return event(self, *args)

    monkeypatch.setattr(git_source.GitSource, "_event", broken)
    here = _report(repo, rules)
    monkeypatch.setattr(forked, "FORK_FROM_BLOBS", 0)
    if child_scans:
        monkeypatch.setattr(forked, "SCAN_BACKLOG", -1)
    calls.clear()
    assert _report(repo, rules) == here
    assert "out of step" in " ".join(here[1]["errors"])


def _api_report(repo: GitRepo, rules: Path) -> dict[str, Any]:
    """The JSON report of a scan through the library (small in-memory limit: streams)."""
    options = SourceOptions(in_memory_bytes=4096)
    config = ScanConfig(
        rule_paths=(rules,),
        include_builtin=False,
        jobs=1,
        options=options,
        policy=Policy(inline_allows=True),
    )
    result = scan([GitSource(str(repo.path), options)], config)
    doc: dict[str, Any] = json.loads(JsonReporter().render(result, show_secrets=True))
    doc["stats"].pop("seconds", None)
    return doc


def test_the_report_is_the_same_when_the_child_process_scans_the_blobs(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child scanning blobs itself (when this process is behind) sends matches that are
    the ones found here: findings, lines, allow comments, skips, errors and counts alike."""
    token, allowed = github_token(), github_token()
    bad = github_token()
    bad = bad[:-1] + ("A" if bad[-1] != "A" else "B")  # checksum invalid: counted, not found
    big = "".join(f"row {i}: {'x' * 60}\n" for i in range(200)) + f"T={github_token()}\n"
    body = [f"setting_{i} = {i}" for i in range(60)]
    # the missing object is written back while committing (git needs it for the tree, and
    # writes it again itself only when the file's time is too close to the index's), then
    # removed again (that object alone: another may share its folder)
    repo.git("hash-object", "-w", "gone.txt")
    repo.commit("config", {"settings.py": "\n".join(body) + "\n", "big.csv": big})
    body[30] = f'API = "{token}"'
    body[41] = f'OTHER = "{allowed}"  # leakscan:allow'
    body[50] = f'SAMPLE = "{bad}"'
    repo.commit("tokens", {"settings.py": "\n".join(body) + "\n"})
    oid = repo.git("rev-parse", "HEAD:gone.txt")
    (repo.path / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    monkeypatch.setattr(forked, "FORK_FROM_BLOBS", 10**9)
    here = _api_report(repo, rules)
    monkeypatch.setattr(forked, "FORK_FROM_BLOBS", 0)
    monkeypatch.setattr(forked, "SCAN_BACKLOG", -1)  # the child scans every blob it can
    assert _api_report(repo, rules) == here
    secrets = {f["secret"] for f in here["findings"]}
    assert token in secrets and allowed not in secrets and bad not in secrets
    assert len(here["findings"]) == 5  # three from the fixture, the big file's, the edit's
    reasons = " ".join(s["reason"] for s in here["skipped"])
    assert "object missing" in reasons and "checksum invalid" in reasons
    assert here["stats"]["blobs"] > 0 and here["errors"] == []
