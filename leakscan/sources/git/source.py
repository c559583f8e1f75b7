"""GitSource: a repository's history (or its staged changes) as blobs, each read once.

1. refs are listed (branches, tags, remotes, the stash and its reflog, a detached HEAD);
2. one ``git log`` walk maps every (blob, path) to the commits that introduced it
   (:mod:`.history`); the oldest by committer date is *the* introducing commit of a location,
   and the refs of a location are those reaching any commit that introduced it (:mod:`.refs`);
3. one ``git cat-file --batch`` process reads the commit and annotated-tag objects (author,
   date, message: messages are scanned too) and then each unique blob once, oldest first; a
   blob found at several paths is yielded once with its bytes and then as
   ``Blob(digest=...)`` locations; with many blobs and a second core, the blobs are read (and
   compared, step 4) by a forked child while this process reads the commits and scans; the
   child scans blobs too while this process is behind, and sends their matches
   (:mod:`.forked`);
4. a blob that edits the one before it at its path has only its changed lines scanned
   (:mod:`.delta`): a secret is reported at the commit that wrote it, not at every later edit
   of the file. HEAD's blobs are scanned whole in a full scan, so a secret still there says so.

``--range``/``--since-commit``/``--branch``/``--max-depth`` narrow the walk; ``--all-objects``
adds objects no ref reaches; ``--staged`` scans the index's changes against HEAD instead.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, cast

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.content import (
    ARCHIVE,
    BINARY,
    SNIFF_BYTES,
    STREAM,
    Prefixed,
    file_blobs,
    route,
    skip_as_binary,
    too_large,
)
from leakscan.sources.filesystem import excluded
from leakscan.sources.git import forked
from leakscan.sources.git.catfile import CatFile, CatObject
from leakscan.sources.git.delta import Base, BaseCache, delta
from leakscan.sources.git.history import Walk
from leakscan.sources.git.objects import ObjectInfo, parse_object
from leakscan.sources.git.options import GitOptions
from leakscan.sources.git.places import History, Place
from leakscan.sources.git.prelude import Early, Prelude, prepare
from leakscan.sources.git.refs import Reachability, Ref
from leakscan.sources.git.repository import Background, Repository, open_repository
from leakscan.sources.interface import (
    ScanContext,
    ScanHere,
    Source,
    SourceError,
    SourceOptions,
)

log = logging.getLogger(__name__)

_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_BASE_BUDGET = 256 * 1024 * 1024  # bytes of earlier blob versions kept to compare with
#: dangling commits whose trees are listed to give their unreachable blobs a commit and path
MAX_DANGLING_COMMITS = 200


@dataclass(slots=True)
class _Loc:
    path: str | None
    provenance: Provenance
    label: str = ""  # how a skip names the location; made from its Place when empty

    @property
    def where(self) -> str:
        fields = self.provenance.fields
        return self.label or (fields.where() if isinstance(fields, Place) else "")


class GitSource(Source):
    """A git repository (local path or URL)."""

    def __init__(
        self,
        target: str,
        options: SourceOptions,
        git_options: GitOptions | None = None,
        begun: Early | None = None,
    ) -> None:
        """``begun``: the start of this scan's walk, begun earlier (:class:`.prelude.Early`);
        used when it was begun for the same target and options."""
        self.target = target
        self.begun = begun
        self.name = target
        self.options = options
        self.git = git_options or GitOptions()
        self.blob_reads = 0  # unique blobs read from git (tests: each blob is read once)
        self.known = ScanContext().known  # the run's (blobs() is given it)
        self.scan_here: ScanHere | None = None  # the run's detector, for a forked reader

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        self.known = ctx.known
        self.scan_here = ctx.scan
        begun, self.begun = self.begun, None
        prelude = begun.take(self.target, self.git) if begun is not None else None
        if prelude is not None:
            self.name = prelude.repo.name
            yield from self._history(prelude.repo, prelude)
            return
        with open_repository(self.target, need_work_tree=self.git.staged) as repo:
            self.name = repo.name
            if self.git.staged:
                yield from self._staged(repo)
            else:
                yield from self._history(repo)

    # --- history ---------------------------------------------------------------------------

    def _history(self, repo: Repository, prelude: Prelude | None = None) -> Iterator[Blob | Skip]:
        if repo.is_shallow():
            yield self._shallow_skip(repo)
        if prelude is None:
            prelude = prepare(repo, self.git)
        walk = prelude.walk
        if prelude.revisions or prelude.tips:  # logged here: an early walk had no log yet
            log.debug(
                "walked %d commits, %d (blob, path) pairs", len(walk.order), len(walk.introduced)
            )
        try:
            for ref in prelude.refs:
                if (
                    ref.commit is None
                    and ref.peeled_type not in ("blob", None)
                    and not prelude.revisions
                ):
                    yield Skip(
                        f"{repo.name}:{ref.name}", f"points at a {ref.peeled_type}; not walked"
                    )
            yield from self._walked(prelude)
        finally:
            prelude.close()

    def _walked(self, prelude: Prelude) -> Iterator[Blob | Skip]:
        repo, refs, revisions, walk = prelude.repo, prelude.refs, prelude.revisions, prelude.walk
        reach = Reachability(walk.order, walk.parents, refs)
        if reach.left_out:
            yield Skip(
                repo.name,
                f"refs of a location: {reach.left_out} of {reach.total} refs "
                "not tracked (large repository)",
            )
        head = _head_tree(prelude.head_tree.output(check=False))
        with CatFile(repo) as cat:
            infos: dict[str, ObjectInfo] = {}
            history = History(repo.name, walk.order, infos, reach)
            by_blob = self._locations(walk, history, head)
            # a narrowed walk reports what it adds; a full one also tells what HEAD still holds
            whole = (
                set()
                if (self.git.range or self.git.since_commit or self.git.max_depth)
                else set(head.values())
            )
            bases = self._bases(walk, by_blob, whole)
            # the blobs are read while the commits are (in a child process, when many), unless
            # a tag points at a blob: its content scanned first is not read again
            early = (
                None
                if (not revisions and _tagged_blobs(refs))
                else self._start(cat, by_blob, bases)
            )
            try:
                yield from self._commits(repo, cat, walk, history, infos, revisions, refs)
                known, read = early or self._start(cat, by_blob, bases)
                yield from known
                yield from read
            finally:
                if early is not None:
                    early[1].close()
            if self.git.all_objects:
                seen = {oid for oid, _ in walk.introduced}
                assert prelude.listing is not None
                yield from self._unreachable(repo, cat, seen, set(walk.order), prelude.listing)
        if walk.error:
            raise SourceError(f"{repo.name}: history walk stopped: {walk.error}")

    def _commits(
        self,
        repo: Repository,
        cat: CatFile,
        walk: Walk,
        history: History,
        infos: dict[str, ObjectInfo],
        revisions: list[str],
        refs: list[Ref],
    ) -> Iterator[Blob | Skip]:
        """The commit messages (each commit's author and date kept for the report), then the
        annotated tags' messages and the blobs tags point at."""
        for obj in cat.objects(walk.order):
            if obj.type != "commit":
                yield Skip(
                    f"{repo.name}:{obj.oid}",
                    "commit object missing (partial or corrupt repository)",
                )
                continue
            info = parse_object(obj.read_all())
            infos[obj.oid] = info
            if info.message.strip():
                fields = history.fields(obj.oid, [obj.oid])
                fields.update(path=None, field="message")
                yield Blob(Provenance("git", fields), data=info.message)
        if not revisions:
            yield from self._tags(repo, cat, refs)

    def _shallow_skip(self, repo: Repository) -> Skip:
        boundary = repo.shallow_commits()
        dates = []
        for oid in boundary:
            out = repo.try_run("show", "-s", "--format=%cI", oid)
            if out:
                dates.append(out.decode().strip())
        first = boundary[0][:12] if boundary else "?"
        when = f" ({min(dates)})" if dates else ""
        return Skip(repo.name, f"shallow clone: history before commit {first}{when} is not scanned")

    def _tags(self, repo: Repository, cat: CatFile, refs: list[Ref]) -> Iterator[Blob | Skip]:
        tags = {r.oid: r for r in refs if r.type == "tag"}
        for obj in cat.objects(list(tags)):
            ref = tags[obj.oid]
            if obj.type != "tag":
                yield Skip(f"{repo.name}:{ref.name}", "tag object missing")
                continue
            info = parse_object(obj.read_all())
            if info.message.strip():
                fields = {
                    "repo": repo.name,
                    "ref": ref.name,
                    "tag_object": obj.oid,
                    "author": info.person,
                    "date": info.date,
                    "path": None,
                    "field": "tag-message",
                }
                yield Blob(Provenance("git", fields), data=info.message)
        # a tag may point straight at a blob: scan it too
        blobs = _tagged_blobs(refs)
        by_blob = {
            oid: [
                _Loc(
                    None,
                    Provenance("git", {"repo": repo.name, "ref": ref.name, "field": "tagged-blob"}),
                    f"{repo.name}:{ref.name}",
                )
            ]
            for oid, ref in blobs.items()
            if oid
        }
        yield from self._emit(cat, by_blob)

    def _locations(
        self, walk: Walk, history: History, head: dict[str, str]
    ) -> dict[str, list[_Loc]]:
        by_blob: dict[str, list[_Loc]] = {}
        # oldest first: a blob is read before the blobs that replace it (see _bases)
        for (oid, path), commits in reversed(walk.introduced.items()):
            if self.options.exclude and excluded(path, self.options.exclude):
                continue
            place = Place(history, commits, path, head.get(path) == oid)
            by_blob.setdefault(oid, []).append(_Loc(path, Provenance("git", place)))
        return by_blob

    @staticmethod
    def _bases(walk: Walk, by_blob: dict[str, list[_Loc]], whole: set[str]) -> dict[str, str]:
        """Blob -> the one blob it replaced, for blobs whose changed lines alone are scanned.

        Not for a blob that is also a new file somewhere, a merge's own result, or written over
        different predecessors; nor for one in ``whole`` (HEAD's blobs in a full scan: a
        secret written long ago and still there is then reported as present in HEAD).
        """
        out: dict[str, str] = {}
        for oid in by_blob:
            bases = walk.bases.get(oid)
            if bases is None or len(bases) != 1 or oid in whole:
                continue
            (base,) = bases
            if base is not None:
                out[oid] = base
        return out

    def _unreachable(
        self,
        repo: Repository,
        cat: CatFile,
        seen: set[str],
        walked: set[str],
        listing: Background,
    ) -> Iterator[Blob | Skip]:
        """Objects no ref reaches (dangling commits and blobs, what a reset or rebase left):
        a dangling commit's message, and each blob the history walk did not read, with the
        dangling commit, date and path that hold it when one does."""
        out = listing.output() or b""
        blobs: list[str] = []
        commits: list[str] = []
        for line in out.decode().splitlines():
            oid, _, otype = line.partition(" ")
            if otype == "blob" and oid not in seen:
                blobs.append(oid)
            elif otype == "commit" and oid not in walked:
                commits.append(oid)
        if not blobs and not commits:
            return
        wanted = set(blobs)
        places: dict[str, list[_Loc]] = {}
        infos: dict[str, ObjectInfo] = {}
        mapped = commits[:MAX_DANGLING_COMMITS]
        for obj in cat.objects(mapped):
            if obj.type != "commit":
                continue
            info = parse_object(obj.read_all())
            infos[obj.oid] = info
            fields = {
                "repo": repo.name,
                "commit": obj.oid,
                "author": info.person,
                "date": info.date,
                "unreachable": True,
            }
            if info.message.strip():
                yield Blob(
                    Provenance("git", {**fields, "path": None, "field": "message"}),
                    data=info.message,
                )
        for commit in infos:
            for oid, path in _tree_blobs(repo, commit):
                if oid in wanted and not any(loc.path == path for loc in places.get(oid, ())):
                    info = infos[commit]
                    prov = Provenance(
                        "git",
                        {
                            "repo": repo.name,
                            "commit": commit,
                            "author": info.person,
                            "date": info.date,
                            "path": path,
                            "object": oid,
                            "unreachable": True,
                        },
                    )
                    places.setdefault(oid, []).append(_Loc(path, prov, f"{repo.name}:{path}"))
        if len(commits) > len(mapped):
            yield Skip(
                repo.name,
                f"{len(commits) - len(mapped)} unreachable commit(s) beyond the first "
                f"{MAX_DANGLING_COMMITS}: their blobs are scanned without a commit or path",
            )
        by_blob: dict[str, list[_Loc]] = {}
        for oid in blobs:
            if self.options.exclude and oid in places:
                kept = [
                    loc for loc in places[oid] if not excluded(loc.path or "", self.options.exclude)
                ]
                if not kept:
                    continue
                places[oid] = kept
            by_blob[oid] = places.get(oid) or [
                _Loc(
                    None,
                    Provenance("git", {"repo": repo.name, "object": oid, "unreachable": True}),
                    f"{repo.name}:{oid[:12]}",
                )
            ]
        yield from self._emit(cat, by_blob)

    # --- staged ----------------------------------------------------------------------------

    def _staged(self, repo: Repository) -> Iterator[Blob | Skip]:
        base = (
            "HEAD"
            if repo.try_run("rev-parse", "--verify", "-q", "HEAD^{commit}")
            else (_EMPTY_TREE)
        )
        out = repo.run(
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-renames",
            "--no-abbrev",
            "--no-ext-diff",
            "--diff-filter=AMT",
            base,
            "--",
        )
        tokens = out.split(b"\0")
        by_blob: dict[str, list[_Loc]] = {}
        replaced: dict[str, set[str]] = {}  # blob -> the committed blobs it replaces ("": none)
        for meta, path_b in zip(tokens[0::2], tokens[1::2], strict=False):
            parts = meta.lstrip(b":").split(b" ")
            if len(parts) < 5:
                continue
            old_mode, mode = parts[0].decode(), parts[1].decode()
            old_oid, oid = parts[2].decode(), parts[3].decode()
            if mode == "160000" or oid == "0" * 40:
                continue
            path = path_b.decode("utf-8", "replace")
            if self.options.exclude and excluded(path, self.options.exclude):
                continue
            prov = Provenance("git", {"repo": repo.name, "path": path, "staged": True})
            by_blob.setdefault(oid, []).append(_Loc(path, prov, f"{repo.name}:{path} (staged)"))
            edits = old_oid != "0" * 40 and old_mode[:2] in ("10", "12")
            replaced.setdefault(oid, set()).add(old_oid if edits else "")
        # like a --range, what the commit would add: an edited file's changed lines
        bases = {
            oid: min(olds) for oid, olds in replaced.items() if len(olds) == 1 and "" not in olds
        }
        with CatFile(repo) as cat:
            yield from self._emit(cat, by_blob, bases)

    # --- blob contents ---------------------------------------------------------------------

    def _emit(
        self,
        cat: CatFile,
        by_blob: dict[str, list[_Loc]],
        bases: dict[str, str] | None = None,
    ) -> Iterator[Blob | Skip]:
        """Each blob read once; its other locations follow as digest-only blobs.

        A blob with a base in ``bases`` has only its changed lines scanned (:mod:`.delta`);
        a base that is not scanned itself (older than ``--range``) is read just to compare.
        """
        known, read = self._start(cat, by_blob, bases or {})
        yield from known
        yield from read

    def _start(
        self, cat: CatFile, by_blob: dict[str, list[_Loc]], bases: dict[str, str]
    ) -> tuple[list[Blob], _Reading]:
        """The digest-only blobs of contents this run already scanned, and the reading of the
        others: in a child process (:mod:`.forked`), started now, when there are many."""
        known: list[Blob] = []
        plan: list[tuple[str, bool]] = []  # (blob id, scanned?) in reading order
        planned: set[str] = set()
        for oid, locs in by_blob.items():
            if self.known(f"git:{oid}"):
                known.extend(Blob(loc.provenance, digest=f"git:{oid}") for loc in locs)
                continue
            base = bases.get(oid)
            if base is not None and base not in by_blob and base not in planned:
                plan.append((base, False))
                planned.add(base)
            plan.append((oid, True))
            planned.add(oid)
        if not plan:
            return known, _Reading(self, iter(()), by_blob)
        if forked.usable(len(plan)):
            repo = cat.repo
            child = forked.Forked(
                lambda: self._events(CatFile(repo), plan, by_blob, bases),
                repo.name,
                self.scan_here,
            )
            return known, _Reading(self, iter(child), by_blob, child.close)
        return known, _Reading(self, self._events(cat, plan, by_blob, bases), by_blob)

    def _events(
        self,
        cat: CatFile,
        plan: list[tuple[str, bool]],
        by_blob: dict[str, list[_Loc]],
        bases: dict[str, str],
    ) -> Iterator[forked.Event]:
        """What each planned blob comes to (``forked``'s event tuples), in plan order; last,
        how many blobs were read."""
        cache = BaseCache(
            (bases[oid] for oid, scanned in plan if scanned and oid in bases), _BASE_BUDGET
        )
        reads = 0
        with cat:
            for obj, (oid, scanned) in zip(
                cat.objects([oid for oid, _ in plan]), plan, strict=True
            ):
                if not scanned:
                    self._keep_base(obj, cache)
                    continue
                if obj.type == "blob" and obj.reader is not None:
                    reads += obj.size <= self.options.max_file_bytes
                base = bases.get(oid)
                old = cache.take(base) if base is not None else None
                event = self._event(obj, by_blob[oid], cache, old, base)
                if event is not None:
                    yield event
        yield (forked.READS, reads)

    def _blobs_of(
        self, event: forked.Event, by_blob: dict[str, list[_Loc]]
    ) -> Iterator[Blob | Skip]:
        """The blobs (or the skip) of one event."""
        kind = event[0]
        if kind == forked.READS:
            self.blob_reads += event[1]
            return
        oid = event[1]
        locs = by_blob[oid]
        if kind == forked.BLOB:
            _, _, data, digest, text, lines = event
            yield Blob(
                locs[0].provenance,
                data=data,
                size=len(data),
                digest=digest,
                text=text,
                lines=lines,
            )
            for loc in locs[1:]:
                yield Blob(loc.provenance, digest=digest)
        elif kind == forked.SCANNED:  # scanned in the child: its matches, not its bytes
            _, _, size, digest, matches, text = event
            yield Blob(locs[0].provenance, size=size, digest=digest, text=text, matches=matches)
            for loc in locs[1:]:
                yield Blob(loc.provenance, digest=digest)
        elif kind == forked.SKIP:
            yield Skip(locs[0].where, event[2])
        elif kind == forked.ARCHIVE:
            _, _, data, size = event
            for loc in locs:
                yield from file_blobs(
                    io.BytesIO(data), size, loc.path or oid, loc.provenance, self.options
                )
        elif kind == forked.STREAM:
            digest = f"git:{oid}"
            stream = cast(IO[bytes], event[3])
            yield Blob(locs[0].provenance, stream=stream, size=event[2], digest=digest)
            for loc in locs[1:]:
                yield Blob(loc.provenance, digest=digest)

    def _keep_base(self, obj: CatObject, cache: BaseCache) -> None:
        """Read a blob only to compare its successors with (it is not scanned)."""
        if obj.type != "blob" or obj.reader is None or obj.size > self.options.in_memory_bytes:
            return
        data = obj.read_all()
        if not skip_as_binary(data[:SNIFF_BYTES], self.options):
            cache.keep(obj.oid, delta(None, data)[1])

    def _event(
        self,
        obj: CatObject,
        locs: list[_Loc],
        cache: BaseCache,
        old: Base | None,
        base: str | None,
    ) -> forked.Event | None:
        """What one blob comes to: a skip, bytes to scan (its changed lines when it has a
        base), an archive to open, a stream; ``None``: nothing (binary, not a blob)."""
        oid = obj.oid
        if obj.type is None or obj.reader is None:
            return (
                forked.SKIP,
                oid,
                "object missing from the repository (partial clone or corruption)",
            )
        if obj.type != "blob":
            return None
        options = self.options
        if obj.size > options.max_file_bytes:
            return (forked.SKIP, oid, too_large(options.max_file_bytes))
        data = obj.data  # small objects are read at once: no copies
        reader = obj.reader
        head = data[:SNIFF_BYTES] if data is not None else reader.read(SNIFF_BYTES)
        how = route(head, obj.size, options, *(loc.path or "" for loc in locs))
        if how == BINARY:
            return None
        if how == STREAM and data is None:
            return (forked.STREAM, oid, obj.size, Prefixed(head, reader))
        if data is None:
            data = head + reader.read(options.archive_bytes + 1 - len(head))
        if how == ARCHIVE:
            return (forked.ARCHIVE, oid, data, obj.size)
        # text: only its changed lines when it has a base
        digest, text, lines = f"git:{oid}", None, None
        if old is not None or cache.wanted(oid):
            part, as_base = delta(old, data)
            cache.keep(oid, as_base)
            if part is not None:
                data, text, lines, digest = part.data, data, part.lines, f"git:{oid}^{base}"
        return (forked.BLOB, oid, data, digest, text, lines)


class _Reading:
    """The blobs of a reading's events, as an iterator; ``close()`` stops a child reader."""

    def __init__(
        self,
        source: GitSource,
        events: Iterator[forked.Event],
        by_blob: dict[str, list[_Loc]],
        close: Callable[[], None] | None = None,
    ) -> None:
        self._source = source
        self._events = events
        self._by_blob = by_blob
        self.close = close or (lambda: None)

    def __iter__(self) -> Iterator[Blob | Skip]:
        blobs_of, by_blob = self._source._blobs_of, self._by_blob
        try:
            for event in self._events:
                yield from blobs_of(event, by_blob)
        finally:
            self.close()


def _tagged_blobs(refs: list[Ref]) -> dict[str | None, Ref]:
    """Blob id -> the ref (a tag, or a ref) that points straight at it."""
    return {
        r.peeled if r.type == "tag" else r.oid: r
        for r in refs
        if (r.peeled_type if r.type == "tag" else r.type) == "blob"
    }


def _tree_blobs(repo: Repository, commit: str) -> Iterator[tuple[str, str]]:
    """(blob id, path) of every file in a commit's tree."""
    out = repo.try_run("ls-tree", "-r", "-z", "--full-tree", commit)
    for entry in (out or b"").split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        parts = meta.split(b" ")
        if len(parts) == 3 and parts[1] == b"blob":
            yield parts[2].decode(), path.decode("utf-8", "surrogateescape")


def _head_tree(out: bytes | None) -> dict[str, str]:
    """Path -> blob id of HEAD's files, from ``git ls-tree -r -z`` (None: no HEAD)."""
    tree: dict[str, str] = {}
    for entry in (out or b"").split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        parts = meta.split(b" ")
        if len(parts) == 3 and parts[1] == b"blob":
            tree[path.decode("utf-8", "replace")] = parts[2].decode()
    return tree
