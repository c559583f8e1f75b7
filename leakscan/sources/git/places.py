"""Where a blob was written in history, as location fields made only when read.

A history has one location per (blob, path) that a commit wrote, often millions; only the
few whose blob holds a finding are ever reported. So a location keeps what it needs (its
path, the commits that wrote it, whether HEAD holds it) and makes its fields (the introducing
commit, author, date, refs) the first time they are read: a few hundred bytes less per
location, and no work for the ones never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leakscan.sources.git.objects import ObjectInfo
from leakscan.sources.git.refs import Reachability
from leakscan.sources.lazy import LazyFields


class History:
    """What every location of one walk shares: commit details, order and reachability."""

    def __init__(
        self,
        repo: str,
        order: Sequence[str],
        infos: dict[str, ObjectInfo],
        reach: Reachability,
    ) -> None:
        self.repo = repo
        self.infos = infos
        self.reach = reach
        self._position: dict[str, int] | None = None
        self._order = order

    def first(self, commits: Sequence[str]) -> str:
        """The introducing commit: the oldest by committer date; on a tie the one walked later
        (an ancestor)."""
        if len(commits) == 1:
            return commits[0]
        if self._position is None:
            self._position = {c: i for i, c in enumerate(self._order)}
        position, infos = self._position, self.infos

        def age(commit: str) -> tuple[int, int]:
            info = infos.get(commit)
            return (info.time if info else 0, -position.get(commit, 0))

        return min(commits, key=age)

    def fields(self, commit: str, introducing: Sequence[str]) -> dict[str, Any]:
        info = self.infos.get(commit)
        return {
            "repo": self.repo,
            "commit": commit,
            "author": info.person if info else None,
            "date": info.date if info else None,
            "refs": self.reach.names_of(self.reach.bits(introducing)),
        }


class Place(LazyFields):
    """The fields of one (blob, path) location, made on first read."""

    __slots__ = ("_commits", "_fields", "_history", "_in_head", "_path")

    def __init__(self, history: History, commits: list[str], path: str, in_head: bool) -> None:
        self._history = history
        self._commits = commits
        self._path = path
        self._in_head = in_head
        self._fields: dict[str, Any] | None = None

    def _made(self) -> dict[str, Any]:
        if self._fields is None:
            history = self._history
            fields = history.fields(history.first(self._commits), self._commits)
            fields["path"] = self._path
            fields["in_head"] = self._in_head
            self._fields = fields
        return self._fields

    def where(self) -> str:
        """How a skip names this location: repository, path and the introducing commit."""
        return f"{self._history.repo}:{self._path}@{self['commit'][:12]}"
