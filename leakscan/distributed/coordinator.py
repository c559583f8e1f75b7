"""A distributed audit: the uncached layers scanned on a Dask cluster while the local audit
follows them, image by image.

1. A listing thread runs the audit's own enumeration (catalog, tags, resume state,
   platforms) ahead of the audit, and names each image's layers.
2. Each layer not in the content cache is sent once (a layer shared by 500 images is scanned
   once), as the listing meets it: a large layer as a Dask task of its own keyed
   ``leakscan-layer-<digest>``, small ones batched into one task (:mod:`.batches`). A worker
   fetches each layer itself, scans it with the same image source and scanner, and returns
   the rows its content cache wrote, per layer.
3. The rows go into the coordinator's content cache: contents at once (they are the same in
   every image), a layer's record once its first image's other records are in and show that
   the record is the one the local audit would write (a file's vendor hashes depend on the
   package databases of the image the layer is first read in; the rare layer whose file is
   vouched for by another layer's database is left to the local audit).
4. Meanwhile the normal local audit runs: before each tag it waits until the listing has
   passed that tag and every layer of its images is back, then finds them cached and
   reports: the same findings, locations and states as an audit on this machine alone. One
   thread drives both (the content cache is one SQLite connection): results are taken in
   while the local audit waits for a tag, and between two tags.

A layer that cannot be read on a worker has no record: the local audit reads it and reports
the image's failure as it always does. Interrupted, the contents and records stored so far
stay in the cache and the tags audited so far in the audit state: the same command resumes.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from leakscan import __version__
from leakscan.api import ScanConfig, engine_version, load_detector
from leakscan.audit.progress import AuditProgress, NoAuditProgress, Snapshot
from leakscan.audit.runner import (
    AuditOptions,
    Auditor,
    AuditResult,
    AuditStats,
    Resolved,
    run_audit,
)
from leakscan.distributed.batches import Batches
from leakscan.distributed.cluster import Cluster
from leakscan.distributed.collector import ClusterStats, Collector
from leakscan.distributed.enumerate import Stopped, list_images
from leakscan.distributed.payload import Identity, LayerTask, shippable
from leakscan.errors import LeakscanError
from leakscan.model import ScanResult
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.registry.auth import Credentials, RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from leakscan.store.content_cache import ContentCache
from leakscan.store.db import connect

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between two looks at Ctrl-C while the local audit waits for the cluster


def identity(config: ScanConfig, key: str) -> Identity:
    return Identity(__version__, engine_version(), load_detector(config).digest, key)


class Dispatch:
    """The cluster side of a distributed audit, driven by the coordinator's one thread: the
    listing's images become layer tasks, their results go into the content cache."""

    def __init__(
        self,
        opts: AuditOptions,
        config: ScanConfig,
        auth: RegistryAuth,
        cache: ContentCache,
        cluster: Cluster,
        policy: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opts, self.config, self.auth, self.cluster = opts, config, auth, cluster
        self.policy, self.clock = policy, clock
        self.stats = ClusterStats()
        self.collector = Collector(cache, self.stats)
        self.me = identity(config, cache.key)
        self.shipped = shippable(config)
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.stop = threading.Event()
        self.images: dict[tuple[str, str], list[int]] = {}  # (repo, tag) -> images listed
        # read by the listing, reused by the local audit: (repo, tag) -> digest and manifest,
        # configuration digest -> bytes (the listing's thread writes, the audit's reads)
        self.resolved: dict[tuple[str, str], Resolved] = {}
        self.configs: dict[str, bytes] = {}
        self.listed: set[tuple[str, str]] = set()
        self.listing, self.running = True, 0  # running: Dask tasks sent, not back
        self.batches = Batches()
        self.queue: collections.deque[tuple[LayerTask, ...]] = collections.deque()  # to send
        self.registry = ""
        self.credentials: Credentials | None = None
        self.began = clock()
        self.listing_cpu = 0.0
        self.lister = threading.Thread(target=self._list, daemon=True, name="leakscan-listing")

    def start(self) -> None:
        """Reach the scheduler (a wrong address fails before anything else)."""
        if self.cluster.workers() == 0:
            log.warning("the Dask scheduler has no workers yet: layer tasks wait for one")
        self.began = self.clock()

    def list_ahead(self) -> None:
        """Start the listing: once the audit has opened its state (two connections setting
        up a new SQLite file at once find it locked)."""
        self.lister.start()

    def _list(self) -> None:
        """(In a thread) the audit's enumeration, each image put on ``events`` as listed."""
        started = self.clock()
        try:
            # an authenticator of its own: two clients met by their first 401 at once would
            # each take the other's challenge for a refusal
            host = registry_name(self.opts)
            auth = RegistryAuth(self.auth.credentials(host), use_docker_config=False)
            list_images(
                self.opts,
                self.config,
                auth,
                lambda repo, tag, layers: self.events.put(("image", (repo, tag, layers))),
                self.stop,
                self.configs,
                self.resolved,
            )
        except Stopped:
            return
        except BaseException as exc:  # the coordinator's thread reports it
            self.events.put(("error", exc))
            return
        finally:
            self.listing_cpu = time.thread_time()
        self.events.put(("listed", self.clock() - started))

    # -- events ------------------------------------------------------------------------------

    def pump(self, timeout: float = 0.0) -> bool:
        """Handle the events queued (waiting up to ``timeout`` seconds for a first one);
        False when none came."""
        try:
            event = self.events.get(timeout=timeout) if timeout else self.events.get_nowait()
        except queue.Empty:
            return False
        while True:
            self._handle(*event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
        self._send_pending()
        return True

    def _send_pending(self) -> None:
        """Keep one task per worker thread on the cluster, the next ones here, in the
        listing's order: a task queued on a worker behind a long one would hold the tags
        it serves back (the local pass goes tag by tag). A thread that would idle takes the
        batch being filled."""
        cpu = time.thread_time()
        while self.queue or self.batches.pending:
            if self.running >= max(1, self.cluster.threads()):
                break
            self._send(self.queue.popleft() if self.queue else self.batches.take())
        self.stats.cpu_submit += time.thread_time() - cpu

    def _send(self, tasks: tuple[LayerTask, ...]) -> None:
        self.cluster.submit(tasks, lambda f, t: self.events.put(("done", (f, t))))
        self.running += 1
        self.stats.tasks += len(tasks)
        self.stats.dask_tasks += 1

    def _handle(self, kind: str, payload: Any) -> None:
        cpu = time.thread_time()
        if kind == "image":
            self._image(*payload)
            self.stats.cpu_submit += time.thread_time() - cpu
        elif kind == "done":
            self.running -= 1
            self._send_pending()  # the thread's next task first, then this one's results
            cpu = time.thread_time()
            results = self.cluster.results(*payload)
            for result in results:
                if result.mismatch is not None:
                    raise LeakscanError(f"{result.worker}: {result.mismatch}")
            for result in results:
                self.collector.add(result)
            self.stats.cluster_seconds = self.clock() - self.began
            self.stats.cpu_collect += time.thread_time() - cpu
        elif kind == "listed":
            self.listing = False
            self.stats.plan_seconds = payload
        elif kind == "error":
            self.listing = False
            raise payload

    def _image(self, repo: str, tag: str, layers: tuple[LayerRef, ...] | None) -> None:
        if layers is None:
            self.listed.add((repo, tag))
            return
        if not self.registry:
            self.registry = registry_name(self.opts)
            self.credentials = self.auth.credentials(self.registry)
        new = self.collector.add_image(layers)
        self.images.setdefault((repo, tag), []).append(len(self.collector.images) - 1)
        for layer in new:
            task = LayerTask(
                self.me, self.shipped, self.policy, self.registry, self.opts.insecure,
                self.opts.timeout, repo, layer, self.credentials,
            )  # fmt: skip
            batch = self.batches.add(task)
            if batch is not None:
                self.queue.append(batch)

    # -- the local audit's side --------------------------------------------------------------

    def ready(self, repo: str, tag: str) -> bool:
        """The listing has passed the tag and every layer of its images is back."""
        if self.listing and (repo, tag) not in self.listed:
            return False
        return not any(self.collector.pending(i) for i in self.images.get((repo, tag), ()))

    def wait(self, repo: str, tag: str, tick: Callable[[], None]) -> None:
        """Take in what came back; then, until the tag is ready, wait for more."""
        self.pump()
        if self.ready(repo, tag):
            return
        began = self.clock()
        tick()  # the cluster's layers while this tag waits for them
        while not self.ready(repo, tag):
            if not self.listing and not self.running:
                break  # nothing more will come (the listing did not meet this tag)
            if self.pump(POLL):
                tick()
        self.stats.waited_seconds += self.clock() - began

    def finish(self) -> None:
        """The local audit is done: take in what came back and the listing's end (a task
        still running is for a tag the audit did not meet: cancelled)."""
        deadline = self.clock() + 30
        while self.listing and self.clock() < deadline:
            self.pump(POLL)
        self.pump()

    def close(self) -> None:
        self.stop.set()
        self.cluster.cancel()
        cpu = time.thread_time()
        self.collector.flush()
        self.stats.cpu_collect += time.thread_time() - cpu
        if self.lister.ident is not None:
            self.lister.join(timeout=30)


class _ClusterAuditor(Auditor):
    """The local audit, each tag audited once the cluster has scanned its layers."""

    dispatch: Dispatch

    def run(self) -> None:
        self.dispatch.list_ahead()
        super().run()

    def audit_tag(self, repo: str, tag: str, head: Future[Resolved]) -> None:
        self.dispatch.wait(repo, tag, self._snapshot)
        super().audit_tag(repo, tag, head)

    def _resolve(self, repo: str, tag: str) -> Resolved:
        """The tag as the listing resolved it (the same image the cluster scanned), when it
        is that far; else read from the registry."""
        listed = self.dispatch.resolved.get((repo, tag))
        return listed if listed is not None else super()._resolve(repo, tag)


class _ClusterProgress:
    """The audit's progress with the cluster's layers (back, sent) on each snapshot."""

    def __init__(self, inner: AuditProgress, stats: ClusterStats) -> None:
        self.inner, self.stats = inner, stats

    def start(self, total: int) -> None:
        self.inner.start(total)

    def update(self, snapshot: Snapshot) -> None:
        s = self.stats
        self.inner.update(dataclasses.replace(snapshot, cluster_layers=(s.scanned, s.tasks)))

    def close(self) -> None:
        self.inner.close()


def registry_name(opts: AuditOptions) -> str:
    """The registry's host[:port] as the audit names it."""
    client = RegistryClient(opts.registry, None, insecure=opts.insecure)
    client.close()
    return client.host


def run_distributed_audit(
    opts: AuditOptions,
    config: ScanConfig,
    auth: RegistryAuth | None,
    cache: ContentCache | None,
    progress: AuditProgress | None,
    cluster: Cluster,
    policy: str,
    cache_key: str,
    clock: Callable[[], float] = time.monotonic,
) -> AuditResult:
    """Audit a registry with its uncached layers scanned on ``cluster``; then as
    :func:`~leakscan.audit.run_audit` (its result, and ``extra["cluster"]``)."""
    auth = auth or RegistryAuth()
    if cache is None:  # no cache file: one for this run, in memory
        cache = ContentCache(connect(":memory:"), cache_key)
    dispatch = Dispatch(opts, config, auth, cache, cluster, policy, clock)
    try:
        dispatch.start()
    except KeyboardInterrupt:
        return _stopped(opts, "audit interrupted; run the same command again to resume", True)
    except LeakscanError as exc:
        return _stopped(opts, str(exc), False)

    def auditor(*args: Any) -> Auditor:
        made = _ClusterAuditor(*args)
        made.dispatch = dispatch
        made.configs = dispatch.configs
        return made

    stats = dispatch.stats
    cpu, main_cpu, began = time.process_time(), time.thread_time(), clock()
    try:
        outcome = run_audit(
            opts,
            config,
            auth,
            cache,
            _ClusterProgress(progress or NoAuditProgress(), stats),
            clock,
            auditor_type=auditor,
        )
        if not outcome.stopped:
            dispatch.finish()
    finally:
        dispatch.close()
    stats.local_seconds = clock() - began
    stats.cpu_total = time.process_time() - cpu
    stats.cpu_listing = dispatch.listing_cpu
    stats.cpu_local = time.thread_time() - main_cpu - stats.cpu_submit - stats.cpu_collect
    if stats.left_local:
        log.warning(
            "%d layer(s) scanned on the cluster had no usable record: this machine reads them",
            stats.left_local,
        )
    log.info(
        "cluster: %d of %d layers scanned on %d worker(s), %d cached before, %d left to this "
        "machine",
        stats.scanned,
        stats.layers,
        len(stats.workers),
        stats.cached,
        stats.left_local,
    )
    outcome.result.extra["cluster"] = stats.to_dict()
    return outcome


def _stopped(opts: AuditOptions, why: str, interrupted: bool) -> AuditResult:
    result = ScanResult([], [], AuditStats(), errors=[why])
    return AuditResult(result, interrupted=interrupted, stopped=why, registry=registry_name(opts))
