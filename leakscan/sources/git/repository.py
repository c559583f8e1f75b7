"""Opening a repository: a local path (work tree or bare) or a remote URL cloned as a mirror.

``git rev-parse`` finds a local repository and ``gitpython`` clones; the bulk paths (history
walk, object streaming) run plain ``git`` through :func:`Repository.run` /
:func:`Repository.popen`. A remote URL (``https://``, ``ssh://``, ``git@host:path``,
``file://``) is cloned into a temporary bare mirror that is removed when the repository is
closed. Credentials in a URL never reach a message.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakscan.errors import SourceError
from leakscan.pipes import PIPE_BYTES, widen_pipe

if TYPE_CHECKING:
    import git

log = logging.getLogger(__name__)


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")

# git must never ask a question, fetch lazily (partial clones) or run a pager
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_NO_LAZY_FETCH": "1",
    "GIT_PAGER": "cat",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "LC_ALL": "C",
}


def is_url(target: str) -> bool:
    return bool(_URL.match(target) or _SCP.match(target))


def redact_url(target: str) -> str:
    """A URL without its user:password part (kept out of messages and reports)."""
    return _USERINFO.sub(r"\1***@", target)


class Children:
    """The git processes started for a repository, to be ended together (a walk begun early
    that nobody takes: :class:`~leakscan.sources.git.prelude.Early`). One started after
    :meth:`end` is ended at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []
        self._ended = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.append(proc)
            if not self._ended:
                return
        proc.kill()

    def end(self) -> None:
        """Kill the processes still running (their readers then see their output end)."""
        with self._lock:
            self._ended = True
            procs, self._procs = self._procs, []
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


@dataclass(slots=True)
class Repository:
    """An opened repository: where its objects are, its work tree (if any), its display name."""

    git_dir: Path
    work_tree: Path | None
    name: str
    children: Children | None = None  # where the processes started from here are kept

    def command(self, *args: str) -> list[str]:
        base = ["git", f"--git-dir={self.git_dir}"]
        if self.work_tree is not None:
            base.append(f"--work-tree={self.work_tree}")
        # never run hooks, external diff drivers or fsmonitor commands of a hostile repository
        base += ["-c", "core.fsmonitor=false", "-c", "diff.external=", "-c", "core.quotePath=false"]
        return [*base, *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, **GIT_ENV}

    def run(self, *args: str, check: bool = True, input: bytes | None = None) -> bytes:
        """Run git and return its stdout; a failure becomes a :class:`SourceError`."""
        code, out, err = self._complete(args, input)
        if check and code != 0:
            raise SourceError(f"{self.name}: git {args[0]} failed: {last_line(err)}")
        return out

    def try_run(self, *args: str, input: bytes | None = None) -> bytes | None:
        """Run git; None when it fails (an optional piece of information)."""
        code, out, _ = self._complete(args, input)
        return out if code == 0 else None

    def start(self, *args: str) -> Background:
        """Run git in the background (while the history is walked); see :class:`Background`."""
        return Background(self, args[0], self._spawn(args, subprocess.DEVNULL))

    def popen(self, args: Sequence[str], stdin: bool = False) -> subprocess.Popen[bytes]:
        # fewer, larger reads of git's bulk output
        proc = self._spawn(args, subprocess.PIPE if stdin else subprocess.DEVNULL, PIPE_BYTES)
        if proc.stdout is not None:
            widen_pipe(proc.stdout.fileno())
        return proc

    def _spawn(self, args: Sequence[str], stdin: int, bufsize: int = -1) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            self.command(*args),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(),
            bufsize=bufsize,
        )
        if self.children is not None:
            self.children.add(proc)
        return proc

    def _complete(self, args: Sequence[str], input: bytes | None) -> tuple[int, bytes, bytes]:
        """(exit code, stdout, stderr) of git run to its end (as ``subprocess.run``)."""
        with self._spawn(args, subprocess.DEVNULL if input is None else subprocess.PIPE) as proc:
            try:
                out, err = proc.communicate(input)
            except BaseException:
                proc.kill()
                raise
        return proc.returncode, out, err

    def is_shallow(self) -> bool:
        return (self.git_dir / "shallow").is_file()

    def shallow_commits(self) -> list[str]:
        try:
            text = (self.git_dir / "shallow").read_text()
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]


class Background:
    """A git command started early; :meth:`output` waits for it as :meth:`Repository.run`
    (``check``) or :meth:`Repository.try_run` would have; :meth:`close` ends it unread."""

    def __init__(self, repo: Repository, name: str, proc: subprocess.Popen[bytes]) -> None:
        self._repo = repo
        self._name = name
        self._proc = proc
        self._result: tuple[bytes, bytes] = (b"", b"")
        # read as git writes: its output is larger than a pipe holds
        self._reader = threading.Thread(target=self._read, name=f"git-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        self._result = self._proc.communicate()

    def output(self, check: bool = True) -> bytes | None:
        self._reader.join()
        out, err = self._result
        if self._proc.returncode == 0:
            return out
        if check:
            raise SourceError(f"{self._repo.name}: git {self._name} failed: {last_line(err)}")
        return None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._reader.join()


def last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = lines[-1] if lines else "unknown error"
    text = re.sub(r"^(fatal|error): ", "", text)
    return redact_url(text)


def _clone_error(exc: git.GitCommandError) -> str:
    """git's own reason from gitpython's quoted ``stderr: '...'`` text."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    lines = [ln.strip().strip("'").strip() for ln in stderr.splitlines()]
    lines = [re.sub(r"^stderr: '?", "", ln) for ln in lines]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    chosen = fatal[0] if fatal else next((ln for ln in reversed(lines) if ln), "")
    return last_line(chosen.encode())


@contextmanager
def open_repository(target: str, need_work_tree: bool = False) -> Iterator[Repository]:
    """The repository at a path or URL; a URL is cloned into a temporary mirror, then removed."""
    if is_url(target):
        if need_work_tree:
            raise SourceError(f"{redact_url(target)}: --staged needs a local work tree, not a URL")
        with _mirror(target) as repo:
            yield repo
        return
    yield _open_local(target, need_work_tree)


def _open_local(target: str, need_work_tree: bool) -> Repository:
    """A local repository: the one holding ``target`` (a work tree, a folder or file inside
    one, a bare repository or a ``.git`` folder), found by ``git rev-parse`` (gitpython's
    import alone would cost more than the rest of a small scan's start)."""
    path = Path(target)
    if not path.exists():
        raise SourceError(f"{target}: no such file or directory")
    where = path if path.is_dir() else path.parent
    found = _rev_parse(target, where, "--absolute-git-dir", "--is-bare-repository")
    lines = found.splitlines()
    if len(lines) != 2:
        raise SourceError(f"{target}: cannot open repository: unexpected git rev-parse output")
    git_dir = Path(lines[0]).resolve()
    work_tree: Path | None = None
    if lines[1] != "true":
        try:  # fails inside the .git folder itself: its work tree is the folder above
            top = _rev_parse(target, where, "--show-toplevel").strip()
        except SourceError:
            top = ""
        work_tree = Path(top).resolve() if top else git_dir.parent
    if need_work_tree and work_tree is None:
        raise SourceError(f"{target}: --staged needs a work tree (this is a bare repository)")
    return Repository(git_dir=git_dir, work_tree=work_tree, name=target)


def _rev_parse(target: str, where: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    try:
        proc = subprocess.run(
            ["git", "-C", str(where), "rev-parse", *args],
            capture_output=True,
            env={**env, **GIT_ENV},
            check=False,
        )
    except OSError as exc:  # no git at all
        raise SourceError(f"{target}: cannot open repository: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        if b"not a git repository" in proc.stderr:
            raise SourceError(f"{target}: not a git repository")
        raise SourceError(f"{target}: cannot open repository: {last_line(proc.stderr)}")
    return proc.stdout.decode("utf-8", "surrogateescape")


@contextmanager
def _mirror(url: str) -> Iterator[Repository]:
    import git  # gitpython: ~60 ms of imports, paid only by git scans

    shown = redact_url(url)
    tmp = Path(tempfile.mkdtemp(prefix="leakscan-git-"))
    try:
        dest = tmp / "mirror.git"
        log.info("cloning %s into a temporary mirror", shown)
        try:
            git.Repo.clone_from(url, dest, mirror=True, env=GIT_ENV).close()
        except git.GitCommandError as exc:
            raise SourceError(f"{shown}: cannot clone: {_clone_error(exc)}") from None
        except (git.GitError, OSError) as exc:
            raise SourceError(f"{shown}: cannot clone: {type(exc).__name__}") from None
        yield Repository(git_dir=dest, work_tree=None, name=shown)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
