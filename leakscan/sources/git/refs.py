"""Refs (branches, tags, remotes, the stash and its reflog) and which commits each reaches.

Reachability is computed once, in one pass over the walked commits in topological order
(children before parents): every commit gets a bit set of the refs whose tip reaches it, so
"the refs a blob is reachable from" costs nothing per blob. The bit sets grow with
refs x commits; above :data:`REACH_BUDGET` bits only the most useful refs are tracked
(HEAD, branches, the stash, tags, then the rest) and a skip says how many were left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leakscan.sources.git.repository import Repository

#: at most this many ref x commit bits are tracked for the "refs" of a location
REACH_BUDGET = 64_000_000


@dataclass(frozen=True, slots=True)
class Ref:
    name: str  # refs/heads/main, refs/tags/v1, stash@{1}, HEAD
    oid: str  # the object the ref points at (a tag object for annotated tags)
    type: str  # commit, tag, tree, blob
    peeled: str | None  # for a tag: the object it points at
    peeled_type: str | None

    @property
    def commit(self) -> str | None:
        """The commit this ref stands for, if it points at one (directly or via one tag)."""
        if self.type == "commit":
            return self.oid
        if self.type == "tag" and self.peeled_type == "commit":
            return self.peeled
        return None


def list_refs(repo: Repository) -> list[Ref]:
    """Every ref, plus older stashes (the stash reflog) and a detached HEAD."""
    out = repo.run(
        "for-each-ref",
        "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)",
    )
    refs: list[Ref] = []
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 4)
        if len(parts) != 5:
            continue
        oid, otype, peeled, ptype, name = parts
        refs.append(Ref(name, oid, otype, peeled or None, ptype or None))
    if any(r.name == "refs/stash" for r in refs):
        log = repo.try_run("log", "-g", "--format=%H", "refs/stash", "--")
        for i, oid in enumerate((log or b"").decode().split()):
            if i > 0:  # stash@{0} is refs/stash itself
                refs.append(Ref(f"stash@{{{i}}}", oid, "commit", None, None))
    if repo.try_run("symbolic-ref", "-q", "HEAD") is None:  # detached (or no HEAD at all)
        head = repo.try_run("rev-parse", "--verify", "-q", "HEAD^{commit}")
        if head:
            refs.append(Ref("HEAD", head.decode().strip(), "commit", None, None))
    return refs


def _priority(name: str) -> int:
    for rank, prefix in enumerate(("HEAD", "refs/heads/", "refs/stash", "stash@", "refs/tags/")):
        if name.startswith(prefix):
            return rank
    return 9


class Reachability:
    """Which tracked refs reach each walked commit."""

    def __init__(
        self, order: Sequence[str], parents: dict[str, tuple[str, ...]], refs: Iterable[Ref]
    ) -> None:
        tips = [(r.name, r.commit) for r in refs if r.commit is not None]
        tips.sort(key=lambda t: (_priority(t[0]), t[0]))
        limit = max(1, REACH_BUDGET // max(1, len(order)))
        self.total = len(tips)
        tips = tips[:limit]
        self.names = [name for name, _ in tips]
        self.left_out = self.total - len(tips)
        bits: dict[str, int] = {}
        for i, (_, commit) in enumerate(tips):
            bits[commit] = bits.get(commit, 0) | (1 << i)
        for commit in order:  # children come before their parents
            mine = bits.get(commit, 0)
            if not mine:
                continue
            for parent in parents.get(commit, ()):
                bits[parent] = bits.get(parent, 0) | mine
        self._bits = bits
        self._names: dict[int, list[str]] = {}  # few distinct ref sets: names made once each

    def bits(self, commits: Iterable[str]) -> int:
        out = 0
        for commit in commits:
            out |= self._bits.get(commit, 0)
        return out

    def names_of(self, bits: int) -> list[str]:
        cached = self._names.get(bits)
        if cached is None:
            cached = self._names[bits] = self._names_of(bits)
        return list(cached)

    def _names_of(self, bits: int) -> list[str]:
        names = []
        i = 0
        while bits:
            if bits & 1:
                names.append(self.names[i])
            bits >>= 1
            i += 1
        return sorted(names)
