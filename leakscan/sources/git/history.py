"""One walk of the history: for every (blob, path), the commits that introduced it.

A single ``git log --raw -c --no-renames`` process lists, for each commit, the blobs it writes
at each path. A non-merge commit introduces every blob it adds or changes. A merge commit is
shown in combined form (``-c``): only the paths whose result differs from *every* parent are
listed, so a blob is attributed to a merge only when the merge itself made it (a conflict
resolution, an "evil" merge) and not when it came in from one side. The blob each commit
replaced is kept too (:mod:`.delta` scans only what changed). Renames are not followed:
a renamed file is the same blob at a new path, i.e. one more location of the same content.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from leakscan.sources.git.repository import Repository, last_line

log = logging.getLogger(__name__)

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


def walk_history(
    repo: Repository, revisions: Sequence[str], tips: Sequence[str], max_count: int | None = None
) -> Walk:
    """Walk the commits reachable from ``tips`` (fed on stdin) and ``revisions`` (arguments)."""
    args = [
        "log",
        "--topo-order",
        "--raw",
        "-c",
        "--root",
        "--no-renames",
        "--no-abbrev",
        "-z",
        "--no-ext-diff",
        "--no-textconv",
        "--format=%x01%H %P",
    ]
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
    assert proc.stdout is not None
    walk = Walk()
    try:
        _parse(_tokens(proc.stdout), walk)
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read() if proc.stderr is not None else b""
        if proc.stderr is not None:
            proc.stderr.close()
        code = proc.wait()
    if code != 0:
        walk.error = last_line(stderr)
    log.debug("walked %d commits, %d (blob, path) pairs", len(walk.order), len(walk.introduced))
    return walk


def _tokens(stream: object) -> Iterator[bytes]:
    """NUL-separated tokens of git's output, read in large chunks."""
    rest = b""
    read = stream.read  # type: ignore[attr-defined]
    while True:
        chunk = read(1 << 20)
        if not chunk:
            break
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
