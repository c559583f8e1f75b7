"""What a history scan starts with, before any object is read: the refs, the revisions to
walk, the walk itself (:mod:`.history`), and two listings running beside it (HEAD's tree and,
with ``all_objects``, every object).

None of it needs the detector, so it can begin before the program has finished starting:
:class:`Early` runs :func:`prepare` for a local repository in a thread, and the source takes
its result when the scan reaches it (when it asks for the same repository and options).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from leakscan.errors import SourceError
from leakscan.sources.git.history import Walk, walk_history
from leakscan.sources.git.options import GitOptions
from leakscan.sources.git.refs import Ref, list_refs
from leakscan.sources.git.repository import (
    Background,
    Children,
    Repository,
    is_url,
    open_repository,
)

log = logging.getLogger(__name__)

ALL_OBJECTS = (
    "cat-file",
    "--batch-all-objects",
    "--batch-check=%(objectname) %(objecttype)",
    "--unordered",
)


@dataclass(slots=True)
class Prelude:
    repo: Repository
    refs: list[Ref]
    revisions: list[str]  # the walk's arguments
    tips: list[str]  # the walk's tips (given on its stdin)
    head_tree: Background  # git ls-tree of HEAD
    listing: Background | None  # every object (with all_objects)
    walk: Walk

    def close(self) -> None:
        self.head_tree.close()
        if self.listing is not None:
            self.listing.close()


def prepare(repo: Repository, git: GitOptions) -> Prelude:
    """List the refs, check the revisions asked for, start the listings and walk the history
    (a bad revision: :class:`SourceError`)."""
    refs = list_refs(repo)
    revisions, tips = _revisions(repo, refs, git)
    # what does not depend on the walk runs beside it
    head_tree = repo.start("ls-tree", "-r", "-z", "--full-tree", "HEAD")
    listing = repo.start(*ALL_OBJECTS) if git.all_objects else None
    prelude = Prelude(repo, refs, revisions, tips, head_tree, listing, Walk())
    if revisions or tips:
        try:
            prelude.walk = walk_history(repo, revisions, tips, git.max_depth)
        except BaseException:
            prelude.close()
            raise
    return prelude


def _revisions(repo: Repository, refs: list[Ref], g: GitOptions) -> tuple[list[str], list[str]]:
    """(arguments, tips on stdin) of the walk."""
    if g.range:
        for side in _range_sides(g.range):
            _verify(repo, side, f"bad revision in range {g.range!r}")
        return [g.range], []
    if g.since_commit:
        _verify(repo, g.since_commit, "bad revision")
        return [f"^{g.since_commit}", "HEAD"], []
    if g.branches:
        for rev in g.branches:
            _verify(repo, rev, "bad revision")
        return list(g.branches), []
    tips = sorted({r.commit for r in refs if r.commit is not None})
    return [], tips


def _range_sides(spec: str) -> list[str]:
    for sep in ("...", ".."):
        if sep in spec:
            base, _, tip = spec.partition(sep)
            return [base or "HEAD", tip or "HEAD"]
    raise SourceError(f"bad range {spec!r}: expected BASE..HEAD")


def _verify(repo: Repository, rev: str, message: str) -> None:
    resolved = (
        None
        if rev.startswith("-")
        else repo.try_run("rev-parse", "--verify", "-q", f"{rev}^{{commit}}")
    )
    if resolved is None:
        raise SourceError(f"{repo.name}: {message}: {rev}")


class Early:
    """:func:`prepare` of a local repository's history, begun in a thread before the scan
    asks for it (:func:`leakscan.cli.early.request` begins none for ``--staged``).

    Nothing is reported from here: when it fails (not a repository, a bad revision), the
    scan does the same work again and reports it then. A URL is not begun (its clone belongs
    to the scan). The git processes it starts are its own until :meth:`take` hands them
    over; :meth:`close` ends those of a walk nobody took."""

    def __init__(self, target: str, git: GitOptions) -> None:
        self.target = target
        self.git = git
        self._prelude: Prelude | None = None
        self._failure: BaseException | None = None  # logged when taken (logging is set up)
        self._children = Children()
        self._thread = threading.Thread(target=self._run, name="git-early", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if is_url(self.target):
            return
        try:
            with open_repository(self.target) as repo:
                repo.children = self._children
                self._prelude = prepare(repo, self.git)
        except Exception as exc:  # the scan meets it again and reports it
            self._failure = exc

    def take(self, target: str, git: GitOptions) -> Prelude | None:
        """The prelude of ``target`` with ``git`` (waiting for it); None when it was begun
        for something else or failed (the caller prepares its own)."""
        self._thread.join()
        if self._failure is not None:
            log.debug("the early walk failed (%s): walked again", self._failure)
        self._children = Children()  # handed over: close() ends none of them
        prelude, self._prelude = self._prelude, None
        if prelude is None:
            return None
        if target != self.target or git != self.git:
            prelude.close()
            return None
        prelude.repo.children = None  # the scan's processes from here on
        return prelude

    def close(self) -> None:
        """End the walk nobody took (a run that stopped before its scan): its git processes
        are killed, even while it runs, and the thread is waited for (it ends as their
        output does)."""
        self._children.end()
        self._thread.join()
        prelude, self._prelude = self._prelude, None
        if prelude is not None:
            prelude.close()
