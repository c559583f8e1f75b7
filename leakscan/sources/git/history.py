"""One walk of the history: for every (blob, path), the commits that introduced it.

A ``git log --raw -c --no-renames`` process lists, for each commit, the blobs it writes at
each path (a long history on two cores: two processes, each showing half of the commits that
``git rev-list`` listed, in the walk's order). A non-merge commit introduces every blob it
adds or changes. A merge commit is shown in combined form (``-c``): only the paths whose
result differs from *every* parent are listed, so a blob is attributed to a merge only when
the merge itself made it (a conflict resolution, an "evil" merge) and not when it came in
from one side. The blob each commit replaced is kept too (:mod:`.delta` scans only what
changed). Renames are not followed: a renamed file is the same blob at a new path, i.e. one
more location of the same content.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from leakscan.sources.git.repository import Repository, last_line

_NULL = "0" * 40
_NULL_B = b"0" * 40
_SUBMODULE = "160000"


@dataclass(slots=True)
class Walk:
    """The result of the walk (in topological order: children before parents)."""

    order: list[str] = field(default_factory=list)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (blob id, path) -> commits that wrote this blob at this path
    introduced: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # blob id -> the blobs it replaced, one per commit that wrote it (None: a new file, or a
    # merge's own result, which has no single predecessor)
    bases: dict[str, set[str | None]] = field(default_factory=dict)
    error: str | None = None  # git failed part-way (a corrupt or missing object)


_LOG = (
    "log",
    "--raw",
    "-c",
    "--root",
    "--no-renames",
    "--no-abbrev",
    "-z",
    "--no-ext-diff",
    "--no-textconv",
    "--format=%x01%H %P",
)
#: a history of this many commits or more is diffed by two git processes at once (on two
#: cores or more): its commits are listed first (``git rev-list``, fast), then each half is
#: shown by its own ``git log --no-walk``, whose outputs, one after the other, are the walk's
SPLIT_FROM = 1000


def walk_history(
    repo: Repository, revisions: Sequence[str], tips: Sequence[str], max_count: int | None = None
) -> Walk:
    """Walk the commits reachable from ``tips`` (fed on stdin) and ``revisions`` (arguments)."""
    listed = _listed(repo, revisions, tips, max_count) if _cores() >= 2 else None
    if listed is not None and len(listed) >= SPLIT_FROM:
        return _walk_split(repo, listed)
    args = [*_LOG[:1], "--topo-order", *_LOG[1:]]
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    if tips:
        args.append("--stdin")
    args += [*revisions, "--"]
    proc = repo.popen(args, stdin=bool(tips))
    if tips:
        assert proc.stdin is not None
        # tips are few compared with the output; written before reading (refs fit a pipe's
        # buffer for all but huge mirrors, and git reads all of stdin before it writes)
        try:
            proc.stdin.write(("\n".join(tips) + "\n").encode())
            proc.stdin.close()
        except OSError:
            pass
    walk = Walk()
    error = _shown(proc, _parsing(walk))
    if error is not None:
        walk.error = error
    return walk


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _listed(
    repo: Repository, revisions: Sequence[str], tips: Sequence[str], max_count: int | None
) -> list[str] | None:
    """The walk's commits in its order (``None``: git could not list them)."""
    args = ["rev-list", "--topo-order"]
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    if tips:
        args.append("--stdin")
    args += [*revisions, "--"]
    out = repo.try_run(*args, input=("\n".join(tips) + "\n").encode() if tips else None)
    return out.decode("ascii").split() if out is not None else None


def _walk_split(repo: Repository, commits: list[str]) -> Walk:
    """The walk of ``commits`` (in walk order) by two ``git log`` processes at once."""
    half = len(commits) // 2
    procs = [repo.popen([*_LOG, "--no-walk=unsorted", "--stdin"], stdin=True) for _ in range(2)]
    feeders = [
        threading.Thread(target=_feed, args=(proc, part), daemon=True)
        for proc, part in zip(procs, (commits[:half], commits[half:]), strict=True)
    ]
    later: list[bytes] = []  # the second half's output, read while the first is parsed
    reader = threading.Thread(target=_slurp, args=(procs[1], later), daemon=True)
    for thread in (*feeders, reader):
        thread.start()
    walk = Walk()
    parse = _parsing(walk)
    try:
        error = _shown(procs[0], parse)
    finally:
        reader.join()
        for thread in feeders:
            thread.join()
    if error is None:
        parse(iter(later))
        later.clear()
    else:  # the first half failed: what the second showed is not added
        procs[1].kill()
    second = _shown(procs[1], None)
    walk.error = error or second
    return walk


def _feed(proc: subprocess.Popen[bytes], commits: list[str]) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(("\n".join(commits) + "\n").encode())
        proc.stdin.close()
    except OSError:  # git stopped early: its error says why
        pass


def _slurp(proc: subprocess.Popen[bytes], out: list[bytes]) -> None:
    assert proc.stdout is not None
    read = proc.stdout.read
    try:
        while chunk := read(1 << 20):
            out.append(chunk)
    except (OSError, ValueError):
        pass


def _parsing(walk: Walk) -> Callable[[Iterator[bytes]], None]:
    """A parser of raw output chunks into ``walk`` (successive outputs, in walk order)."""

    def parse(chunks: Iterator[bytes]) -> None:
        _parse(_tokens(chunks), walk)

    return parse


def _shown(
    proc: subprocess.Popen[bytes], parse: Callable[[Iterator[bytes]], None] | None
) -> str | None:
    """Parse a git process's output (``None``: another thread read it); its error, if any."""
    assert proc.stdout is not None
    try:
        if parse is not None:
            parse(_chunks(proc.stdout))
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read() if proc.stderr is not None else b""
        if proc.stderr is not None:
            proc.stderr.close()
        code = proc.wait()
    return last_line(stderr) if code != 0 else None


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    read = stream.read
    while chunk := read(1 << 20):
        yield chunk


def _tokens(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """NUL-separated tokens of git's output, from large chunks."""
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _parse(tokens: Iterator[bytes], walk: Walk) -> None:
    commit: str | None = None
    introduced, bases = walk.introduced, walk.bases
    for token in tokens:
        if token.startswith(b"\n"):
            token = token[1:]
        if not token:
            continue
        if token[0] == 1:  # \x01<commit> <parents...>
            ids = token[1:].decode("ascii").split()
            commit = ids[0]
            walk.order.append(commit)
            walk.parents[commit] = tuple(ids[1:])
            continue
        if token[0] != 0x3A or commit is None:  # not ":<modes> <ids> <status>"
            continue
        path_token = next(tokens, None)
        if path_token is None:
            break
        meta = token.lstrip(b":").split(b" ")
        nparents = (len(meta) - 3) // 2  # n parents: n+1 modes, n+1 ids, the status
        if nparents < 1:
            continue
        modes, oids = meta[: nparents + 1], meta[nparents + 1 : 2 * nparents + 2]
        mode, oid = modes[-1].decode(), oids[-1].decode()
        if oid == _NULL or mode == _SUBMODULE or mode.startswith("04"):
            continue
        path = path_token.decode("utf-8", "replace")
        introduced.setdefault((oid, path), []).append(commit)
        base: str | None = None
        if nparents == 1 and oids[0] != _NULL_B and modes[0][:2] in (b"10", b"12"):
            base = oids[0].decode()
        if base != oid:  # a mode change writes the same blob again: nothing to compare
            bases.setdefault(oid, set()).add(base)
