"""What part of a repository to scan (a module of its own: light enough to import first)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class GitOptions:
    """What part of a repository to scan."""

    branches: tuple[str, ...] = ()  # only history reachable from these revisions
    max_depth: int | None = None  # only the N most recent commits of the walk
    range: str | None = None  # BASE..HEAD: only blobs introduced by these commits
    since_commit: str | None = None  # same as REV..HEAD
    all_objects: bool = False  # add objects that no ref reaches (dangling, unreachable)
    staged: bool = False  # the index's staged changes instead of the history
