"""A history walk begun before the scan asks for it (``leakscan scan git`` begins it at
start-up): the report is the one a walk made by the scan gives, and a walk begun for another
target or other options is not used."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app, early
from leakscan.sources.git import prelude
from leakscan.sources.git.history import Walk
from leakscan.sources.git.repository import Repository
from tests.helpers import github_token
from tests.sources.git.gitrepo import GitRepo, report, scan_argv

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
    done = report(argv)
    assert early.take() is None  # what was begun was taken (or nothing was begun)
    return done


@pytest.mark.parametrize(
    "args", [[], ["--max-depth", "2"], ["--branch", "topic"], ["--range", "HEAD~1..HEAD"]]
)
def test_a_walk_begun_early_reports_what_the_scan_s_own_walk_does(
    repo: GitRepo, rules: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    argv = scan_argv(repo, rules, *args)
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
    # each case reaches a token but the last: its one commit only removes a line
    assert bool(own[1]["findings"]) == (args[:1] != ["--range"])


def test_a_walk_begun_for_other_options_is_not_used(repo: GitRepo) -> None:
    begun = prelude.Early(str(repo.path), early.git_options(str(repo.path), max_depth=1))
    target = str(repo.path)
    assert begun.take(target, early.git_options(target)) is None
    other = prelude.Early(str(repo.path), early.git_options(str(repo.path), max_depth=1))
    taken = other.take(target, early.git_options(target, max_depth=1))
    assert taken is not None and len(taken.walk.order) == 1
    taken.close()


def test_a_walk_nobody_takes_ends_with_its_git_processes(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``close()`` (at exit, when the run stopped before its scan) kills the walk's git
    processes while it still runs, and returns when its thread has ended."""
    started = threading.Event()
    procs: list[subprocess.Popen[bytes]] = []

    def stuck(git_repo: Repository, *_: Any) -> Walk:
        proc = git_repo.popen(["cat-file", "--batch"], stdin=True)  # ends only with its input
        procs.append(proc)
        started.set()
        assert proc.stdout is not None
        proc.stdout.read()
        proc.wait()
        return Walk()

    monkeypatch.setattr(prelude, "walk_history", stuck)
    target = str(repo.path)
    begun = prelude.Early(target, early.git_options(target))
    assert started.wait(60)
    begun.close()
    assert procs[0].returncode == -signal.SIGKILL
    assert begun.take(target, early.git_options(target)) is None  # nothing left to take


def test_the_processes_of_a_walk_taken_are_the_scan_s(repo: GitRepo) -> None:
    target = str(repo.path)
    begun = prelude.Early(target, early.git_options(target))
    taken = begun.take(target, early.git_options(target))
    assert taken is not None
    proc = taken.repo.popen(["cat-file", "--batch"], stdin=True)
    begun.close()  # at exit: not the scan's to end
    assert proc.poll() is None
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(60) == 0
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()
    taken.close()


def test_a_walk_that_failed_early_fails_again_in_the_scan(tmp_path: Path, rules: Path) -> None:
    argv = ["scan", "git", str(tmp_path), "--no-progress", "--rules", str(rules)]
    early.begin(argv)
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert "not a git repository" in result.stderr


def test_the_program_begins_the_walk_before_its_commands_are_imported(
    repo: GitRepo, rules: Path
) -> None:
    """``leakscan scan git`` starts the walk before typer, the engine and the rules load (a
    fresh process: what is imported when the walk begins), and uses it; ``scan path`` begins
    none."""
    probe = (
        "import sys\n"
        "from leakscan.sources.git import prelude\n"
        "init = prelude.Early.__init__\n"
        "def begun(self, *a):\n"
        "    print('begun; commands imported:', 'leakscan.cli.commands' in sys.modules,\n"
        "          file=sys.stderr, flush=True)\n"
        "    init(self, *a)\n"
        "prelude.Early.__init__ = begun\n"
        "sys.argv = ['leakscan', *sys.argv[1:]]\n"
        "from leakscan.cli import main\n"
        "main()\n"
    )
    tail = ["--no-progress", "--rules", str(rules), "-f", "json"]
    git_run = subprocess.run(
        [sys.executable, "-c", probe, "scan", "git", str(repo.path), *tail],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "begun; commands imported: False" in git_run.stderr
    assert git_run.returncode == 1 and json.loads(git_run.stdout)["findings"]
    path_run = subprocess.run(
        [sys.executable, "-c", probe, "scan", "path", str(repo.path), *tail],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "begun" not in path_run.stderr and path_run.returncode in (0, 1)
