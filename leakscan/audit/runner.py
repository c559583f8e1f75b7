"""An audit: enumeration (catalog, tags) plus resume state, driving the image scan.

Each tag ``registry/repo:tag`` is scanned by the very image source and scanner that
``leakscan scan image`` uses, sharing one run (a layer met again is not read again) and the
content cache (a layer scanned by an earlier run is not downloaded). A tag done earlier with
the same digest and configuration is not fetched at all: its share of the findings comes back
from the audit state as it was placed. A tag that fails is recorded with a one-line reason and
the audit goes on; it is not marked done, so the next run tries it again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from leakscan.api import ScanConfig, Scanner
from leakscan.audit import replay
from leakscan.audit.images import AuditStore
from leakscan.audit.progress import AuditProgress, NoAuditProgress, Snapshot
from leakscan.audit.twins import retarget
from leakscan.errors import LeakscanError
from leakscan.model import ScanResult, Skip, Stats
from leakscan.sources.image.interface import ImageStore
from leakscan.sources.image.source import ImageSource, RunState
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.auth import RegistryAuth
from leakscan.sources.registry.client import Manifest, RegistryClient
from leakscan.store.audit_state import AuditState, DoneTag
from leakscan.store.content_cache import ContentCache
from leakscan.store.db import StoreError, connect
from leakscan.userinfo import hide_userinfo

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AuditOptions:
    registry: str
    state: Path
    repos: tuple[str, ...] = ()  # globs; empty = every repository
    tags: str = "all"  # all | latest | a glob
    platform: str | None = None
    rescan: bool = False
    insecure: bool = False
    timeout: float | None = None  # seconds per registry read (LEAKSCAN_REGISTRY_TIMEOUT)
    page_size: int | None = None
    workers: int = 4  # concurrent registry requests (tag digests)
    stop_after: int | None = None  # test hook: stop (as if interrupted) after N images
    state_key: str = ""  # the configuration the state is valid for (rules, options)


@dataclass(slots=True)
class AuditStats(Stats):
    images: int = 0  # tags audited (each a registry/repo:tag reference)
    images_scanned: int = 0
    images_from_state: int = 0
    images_failed: int = 0
    repositories: int = 0
    repositories_failed: int = 0  # whose tag list could not be read
    layers_downloaded: int = 0
    bytes_downloaded: int = 0


@dataclass(slots=True)
class TagRecord:
    """One tag's outcome, for the summary and the report."""

    repository: str
    tag: str
    reference: str
    status: str  # scanned | state | failed
    digest: str | None = None
    images: list[dict[str, Any]] = field(default_factory=list)  # digest, platform, layers
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "repository": self.repository,
            "tag": self.tag,
            "image": self.reference,
            "status": self.status,
            "digest": self.digest,
            "images": self.images,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(slots=True)
class AuditResult:
    result: ScanResult
    tags: list[TagRecord] = field(default_factory=list)
    failed_repositories: dict[str, str] = field(default_factory=dict)  # repo -> reason
    interrupted: bool = False
    stopped: str | None = None  # why the audit could not run or go on (exit 2)
    unsaved: list[str] = field(default_factory=list)  # tags the state could not keep: why
    registry: str = ""
    started: float = 0.0  # wall clock (time.time) at the start

    @property
    def failed(self) -> list[TagRecord]:
        return [t for t in self.tags if t.status == "failed"]

    def per_repo(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for t in self.tags:
            c = out.setdefault(t.repository, {"images": 0, "failed": 0})
            c["images"] += 1
            c["failed"] += t.status == "failed"
        for repo in self.failed_repositories:
            out.setdefault(repo, {"images": 0, "failed": 0})["failed"] += 1
        return out


class _Stop(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Resolved:
    digest: str
    manifest: Manifest | None  # fetched ahead for a tag to scan


class _LayerTicks:
    """The image source's progress (layers read) turned into audit snapshots."""

    def __init__(self, tick: Callable[[], None]) -> None:
        self.tick = tick

    def task(self, description: str, total: int | None = None, unit: str = "B") -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        self.tick()

    def done(self) -> None:
        return None


def _tag_selected(tag: str, tags: str) -> bool:
    if tags == "all":
        return True
    return fnmatchcase(tag, tags)


def _reason(errors: list[str], reference: str) -> str:
    """One line: the first error of an image, without the image's name in front."""
    text = errors[0]
    for prefix in (reference, reference.split("/", 1)[-1]):
        text = text.removeprefix(prefix).removeprefix(":").strip()
    text = " ".join(text.split())
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (text[:300] or "failed") + more


class Auditor:
    def __init__(
        self,
        opts: AuditOptions,
        config: ScanConfig,
        auth: RegistryAuth | None = None,
        cache: ContentCache | None = None,
        progress: AuditProgress | None = None,
    ) -> None:
        self.opts = opts
        self.config = config
        self.progress = progress or NoAuditProgress()
        self.scanner = Scanner(config, _LayerTicks(self._snapshot), cache=cache)
        self.scanner.stats = self.stats = AuditStats()
        self.scanner.findings.journal = []
        # one kept-alive connection per pool worker, and one for the blobs the scan reads
        self.client = RegistryClient(
            opts.registry,
            auth,
            insecure=opts.insecure,
            timeout=opts.timeout,
            connections=max(10, opts.workers + 1),
        )
        self.registry = self.client.host
        self.state = AuditState(connect(opts.state))
        # (repo, tag, digest) done with this configuration: read once, consulted by the pool
        self.done = self.state.done_keys(self.client.host, opts.state_key)
        self.done_tags = {(r, t) for r, t, _ in self.done}
        self.done_digests = {d for _, _, d in self.done}
        self._repo_done: tuple[str, dict[tuple[str, str], DoneTag]] = ("", {})
        # manifest digest -> (reference, what it held) of a tag done in this run: its twins
        # (tags of the same image) take its findings instead of being scanned again
        self.twins: dict[str, tuple[str, DoneTag]] = {}
        self.listed: dict[tuple[str, str], str] = {}  # (repo, tag) -> digest in its tag list
        self.run_state = RunState(store=cache)
        self.configs: dict[str, bytes] = {}
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, opts.workers), thread_name_prefix="leakscan-registry"
        )
        self.outcome = AuditResult(ScanResult([], [], self.stats), registry=self.registry)
        self.total = 0
        self.repository = ""

    # -- enumeration -------------------------------------------------------------------------

    def plan(self) -> list[tuple[str, list[str]]]:
        """(repository, tags) to audit; a repository whose tags cannot be listed fails alone."""
        repos = sorted(set(self.client.catalog(self.opts.page_size)))
        if self.opts.repos:
            repos = [r for r in repos if any(fnmatchcase(r, g) for g in self.opts.repos)]
        lists = {r: self.pool.submit(self._tags, r) for r in repos}
        out = []
        for repo in repos:
            self.stats.repositories += 1
            try:
                tags = lists[repo].result()
            except LeakscanError as exc:
                self.stats.repositories_failed += 1
                self.outcome.failed_repositories[repo] = _reason([hide_userinfo(str(exc))], repo)
                continue
            out.append((repo, tags))
        return out

    def _tags(self, repo: str) -> list[str]:
        listed, digests = self.client.tags_and_digests(repo, self.opts.page_size)
        if digests:  # the registry lists each tag's digest: no HEAD needed to know it
            self.listed.update(((repo, t), d) for t, d in digests.items())
        tags = sorted(set(listed))
        if self.opts.tags == "latest":
            return [t for t in tags if t == "latest"]
        return [t for t in tags if _tag_selected(t, self.opts.tags)]

    def run(self) -> None:
        plan = self.plan()
        self.total = sum(len(tags) for _, tags in plan)
        self.progress.start(self.total)
        for repo, tags in plan:
            self._commit()  # the state is written at least once per repository
            self.repository = repo
            # tags resolved ahead by the pool (HEAD; the manifest too for a tag not done); the
            # first alone, so that a token challenge for the repository is met once
            heads: list[Future[Resolved]] = [
                self.pool.submit(self._resolve, repo, t) for t in tags[:1]
            ]
            if heads:
                heads[0].exception()
            heads += [self.pool.submit(self._resolve, repo, t) for t in tags[1:]]
            for tag, head in zip(tags, heads, strict=True):
                self._snapshot()
                self.audit_tag(repo, tag, head)
                self._snapshot()
                done = len(self.outcome.tags)
                if self.opts.stop_after is not None and done >= self.opts.stop_after:
                    raise _Stop

    def _snapshot(self) -> None:
        self.progress.update(
            Snapshot(
                len(self.outcome.tags),
                self.total,
                self.repository,
                self.run_state.layers_reused,
                self.run_state.layers_scanned,
                self.stats.bytes,
                self.stats.images_failed,
            )
        )

    # -- one tag -----------------------------------------------------------------------------

    def _resolve(self, repo: str, tag: str) -> Resolved:
        """(In the pool) the tag's digest, and its manifest unless the tag is done or its
        digest was audited under another tag. A tag never done is not asked a HEAD first:
        one request either way. A digest the tag list gave needs no request."""
        listed = self.listed.get((repo, tag))
        if listed is not None and (
            listed in self.twins or (listed in self.done_digests and not self.opts.rescan)
        ):
            return Resolved(listed, None)
        if (repo, tag) in self.done_tags and not self.opts.rescan:
            digest = listed or self.client.head_manifest(repo, tag)
            # done with this digest, or a twin of a tag done (the state's or this run's)
            if digest is not None and (digest in self.done_digests or digest in self.twins):
                return Resolved(digest, None)
        manifest = self.client.manifest(repo, tag)
        return Resolved(manifest.digest, manifest)

    def audit_tag(self, repo: str, tag: str, head: Future[Resolved]) -> None:
        reference = f"{self.registry}/{repo}:{tag}"
        record = TagRecord(repo, tag, reference, "failed")
        self.outcome.tags.append(record)
        self.stats.images += 1
        try:
            resolved = head.result()
        except LeakscanError as exc:
            self._failed(record, [hide_userinfo(str(exc))])
            return
        digest = record.digest = resolved.digest
        if not self.opts.rescan:
            done = self._done(repo, tag, digest)
            if done is not None:
                replay.replay(self.scanner.findings, done.locations)
                self.scanner.skipped.extend(Skip(w, r) for w, r in done.skips)
                record.status, record.images = "state", done.images
                self.stats.images_from_state += 1
                self.twins.setdefault(digest, (reference, done))
                return
        if self._from_twin(record, digest):
            return
        manifest = resolved.manifest
        if manifest is None:  # a twin whose findings could not be moved: the tag is scanned
            try:
                manifest = self.client.manifest(repo, tag)
            except LeakscanError as exc:
                self._failed(record, [hide_userinfo(str(exc))])
                return
            digest = record.digest = manifest.digest
        errors, skips = len(self.scanner.errors), len(self.scanner.skipped)
        journal = self.scanner.findings.journal
        assert journal is not None
        placed = len(journal)
        store: list[AuditStore] = []

        def open_store(ref: str, options: SourceOptions) -> ImageStore:
            s = AuditStore(ref, options, self.client, repo, tag, self.configs, manifest)
            store.append(s)
            return s

        source = ImageSource(reference, self.config.options, self.run_state, open_store)
        self.scanner.run(source)
        self.stats.layers_downloaded = self.run_state.layers_downloaded
        self.stats.bytes_downloaded = self.run_state.bytes_downloaded
        record.images = store[0].resolved if store else []
        new_errors = self.scanner.errors[errors:]
        if new_errors:  # the image failed (its findings so far are kept): not marked done
            del self.scanner.errors[errors:]
            self._failed(record, new_errors)
            return
        record.status = "scanned"
        self.stats.images_scanned += 1
        done = DoneTag(
            record.images,
            replay.rows(journal[placed:]),
            [[s.where, s.reason] for s in self.scanner.skipped[skips:]],
        )
        self._mark_done(record, done)

    def _mark_done(self, record: TagRecord, done: DoneTag) -> None:
        assert record.digest is not None
        self.twins.setdefault(record.digest, (record.reference, done))
        try:
            self.state.mark_done(
                self.registry, record.repository, record.tag, record.digest,
                self.opts.state_key, done,
            )  # fmt: skip
        except StoreError as exc:  # reported all the same; audited again next time
            self.outcome.unsaved.append(str(exc))

    def _done(self, repo: str, tag: str, digest: str) -> DoneTag | None:
        """What the tag held when done with this digest (the repository's rows read once)."""
        if self._repo_done[0] != repo:
            try:
                rows = self.state.done_in(self.registry, repo, self.opts.state_key)
                self._repo_done = (repo, rows)
            except StoreError as exc:  # unreadable: scanned again
                self.outcome.unsaved.append(str(exc))
                self._repo_done = (repo, {})
        return self._repo_done[1].get((tag, digest))

    def _from_twin(self, record: TagRecord, digest: str) -> bool:
        """The tag's findings from another tag of the same image (this run's, else the
        state's), under this tag's name; False when there is none to take them from."""
        twin = self.twins.get(digest)
        if twin is None and not self.opts.rescan and digest in self.done_digests:
            try:
                found = self.state.twin(self.registry, digest, self.opts.state_key)
            except StoreError:
                found = None
            if found is not None:
                twin = (f"{self.registry}/{found[0]}:{found[1]}", found[2])
        done = retarget(twin[1], twin[0], record.reference) if twin is not None else None
        if done is None:
            return False
        replay.replay(self.scanner.findings, done.locations)
        self.scanner.skipped.extend(Skip(w, r) for w, r in done.skips)
        record.status, record.images = "scanned", done.images
        self.stats.images_scanned += 1
        # as a scan of it would count them: every layer met again
        self.run_state.layers_reused += sum(len(i.get("layers") or ()) for i in done.images)
        self.stats.layers_reused = self.run_state.layers_reused
        self._mark_done(record, done)
        return True

    def _failed(self, record: TagRecord, errors: list[str]) -> None:
        record.status = "failed"
        record.reason = _reason(errors, record.reference)
        self.stats.images_failed += 1
        log.debug("%s failed: %s", record.reference, errors)

    def _commit(self) -> None:
        try:
            self.state.commit()
        except StoreError as exc:
            self.outcome.unsaved.append(str(exc))

    def close(self) -> None:
        self._commit()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
        self.scanner.close()


#: what makes an auditor: ``Auditor`` itself, or a subclass's factory
AuditorType = Callable[
    [AuditOptions, ScanConfig, RegistryAuth | None, ContentCache | None, AuditProgress | None],
    Auditor,
]


def run_audit(
    opts: AuditOptions,
    config: ScanConfig,
    auth: RegistryAuth | None = None,
    cache: ContentCache | None = None,
    progress: AuditProgress | None = None,
    clock: Callable[[], float] = time.monotonic,
    auditor_type: AuditorType | None = None,
) -> AuditResult:
    """Audit a registry. Failed images are in ``tags``; ``stopped`` says why the audit could
    not run or go on (Ctrl-C included); what was found until then is in ``result``.
    ``auditor_type`` makes the auditor (a subclass: the distributed audit's)."""
    started = clock()
    if opts.stop_after is None and os.environ.get("LEAKSCAN_AUDIT_STOP_AFTER"):
        opts.stop_after = int(os.environ["LEAKSCAN_AUDIT_STOP_AFTER"])
    auditor = (auditor_type or Auditor)(opts, config, auth, cache, progress)
    outcome = auditor.outcome
    outcome.started = time.time()
    try:
        auditor.run()
    except (KeyboardInterrupt, _Stop):
        outcome.interrupted = True
        outcome.stopped = "audit interrupted; run the same command again to resume"
    except StoreError as exc:
        outcome.stopped = f"{exc}; the audit stopped (run it again to resume)"
    except LeakscanError as exc:
        outcome.stopped = hide_userinfo(str(exc))
    finally:
        auditor.progress.close()
        auditor.close()
        if cache is not None:
            cache.flush()
    outcome.result = auditor.scanner.result(clock() - started)
    if outcome.unsaved:
        outcome.result.errors.append(
            f"{outcome.unsaved[-1]}: images reported but not saved in the audit state (they "
            "are audited again next time)"
        )
    if outcome.stopped:
        outcome.result.errors.append(outcome.stopped)
    return outcome
