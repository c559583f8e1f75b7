"""A distributed audit: the uncached layers scanned on a Dask cluster, then the local audit.

1. The audit's own enumeration lists the images it will scan and their layers (in a thread).
2. Each layer not in the content cache becomes one Dask task as the listing meets it, keyed
   ``leakscan-layer-<digest>`` (a layer shared by 500 images is one task). A worker fetches
   the layer itself, scans it with the same image source and scanner, and returns the rows
   its content cache wrote.
3. The rows go into the coordinator's content cache: contents at once (they are the same in
   every image), a layer's record once its first image's other records are in and show that
   the record is the one the local audit would write (a file's vendor hashes depend on the
   package databases of the image the layer is first read in; the rare layer whose file is
   vouched for by another layer's database is left to the local audit).
4. The normal local audit runs, finds the layers cached, and reports: the same findings,
   locations and states as an audit on this machine alone.

A layer that cannot be read on a worker has no record: the local audit reads it and reports
the image's failure as it always does. Interrupted, the contents and records stored so far
stay in the cache and the audit state is untouched: running the command again resumes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from leakscan import __version__
from leakscan.api import ScanConfig, engine_version, load_detector
from leakscan.audit.progress import AuditProgress, NoAuditProgress, Snapshot
from leakscan.audit.runner import AuditOptions, AuditResult, AuditStats, run_audit
from leakscan.distributed.cluster import Cluster
from leakscan.distributed.enumerate import Stopped, is_scanned, list_images
from leakscan.distributed.payload import Identity, LayerResult, LayerTask, shippable
from leakscan.errors import LeakscanError
from leakscan.model import ScanResult
from leakscan.sources.image import records
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.image.source import LayerRecord, layer_key
from leakscan.sources.image.vendor import PackageDb
from leakscan.sources.registry.auth import Credentials, RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from leakscan.store.content_cache import ContentCache, StoredMatch
from leakscan.store.db import connect

log = logging.getLogger(__name__)

FLUSH_EVERY = 2.0  # seconds between content cache commits while results come in


@dataclass(slots=True)
class ClusterStats:
    layers: int = 0  # unique layers the audit will meet
    cached: int = 0  # already in the content cache
    tasks: int = 0  # sent to the cluster
    scanned: int = 0  # records (or problems) returned, one per task
    stored: int = 0  # layer records put in the cache
    left_local: int = 0  # no record, or one the local audit must write itself
    bytes_scanned: int = 0
    worker_seconds: float = 0.0
    plan_seconds: float = 0.0
    cluster_seconds: float = 0.0
    local_seconds: float = 0.0
    workers: dict[str, int] = field(default_factory=dict)  # worker -> layers it scanned

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def identity(config: ScanConfig, key: str) -> Identity:
    return Identity(__version__, engine_version(), load_detector(config).digest, key)


def _cacheable(cache: ContentCache, key: str) -> bool:
    """The local audit would reuse this layer: its record and every content are stored."""
    data = cache.get_layer(key)
    record = records.decode(data) if data is not None else None
    return record is not None and all(cache.known(f.digest) for f in record.files or ())


def _as_local(record: LayerRecord, db: PackageDb) -> bool:
    """True when each file's hashes are those the local audit computes in the layer's first
    image (sha256, plus what that image's package databases need for its path)."""
    for f in record.files or ():
        if not f.hashes:  # streamed files: no hashes, anywhere
            continue
        wanted = db.algorithms(f.path.split("!", 1)[0]) | {"sha256"}
        if set(f.hashes) != wanted:
            return False
    return True


_MISSING = object()  # a layer without a usable record: its packages are not known


class _Collector:
    """Results into the content cache; a layer's record once every layer of the image it is
    first met in is back (the package databases of that image decide its vendor hashes).
    Images arrive in the audit's order while the cluster works."""

    def __init__(self, cache: ContentCache, stats: ClusterStats) -> None:
        self.cache, self.stats = cache, stats
        self.images: list[tuple[LayerRef, ...]] = []
        self.first: dict[str, int] = {}  # layer -> the image it is first met in
        self.sent: set[str] = set()
        self.records: dict[str, bytes | None] = {}  # sent layer -> its record, until kept
        self.problems: dict[str, str | None] = {}
        self.packages: dict[str, object] = {}  # layer -> PackageDb | None | _MISSING
        self.seen: set[str] = set()
        self.waiting: dict[int, set[str]] = {}  # image -> sent layers it holds, not back yet
        self.dependents: dict[str, list[int]] = {}  # sent layer -> images waiting for it
        self.flushed = time.monotonic()

    def add_image(self, layers: tuple[LayerRef, ...]) -> list[LayerRef]:
        """An image listed: the layers it is the first to hold that the cache lacks (to
        send). The image waits for its sent layers when it is the first of one."""
        n = len(self.images)
        self.images.append(layers)
        new: list[LayerRef] = []
        for layer in layers:
            key = layer_key(layer)
            if key in self.first or not is_scanned(layer):
                continue
            self.first[key] = n
            self.stats.layers += 1
            if _cacheable(self.cache, key):
                self.stats.cached += 1
            else:
                self.sent.add(key)
                new.append(layer)
        if new:
            keys = {layer_key(layer) for layer in layers}
            left = {k for k in keys & self.sent if k not in self.seen}
            self.waiting[n] = left
            for k in left:
                self.dependents.setdefault(k, []).append(n)
            if not left:  # cannot happen (its new layers were just sent); never wait forever
                self._image_complete(n)
        return new

    def add(self, result: LayerResult) -> None:
        if result.key in self.seen:  # a task's result is taken once
            return
        self.seen.add(result.key)
        self.records[result.key] = result.record
        self.problems[result.key] = result.problem
        record = records.decode(result.record) if result.record is not None else None
        self.packages[result.key] = _MISSING if record is None else record.packages
        s = self.stats
        s.scanned += 1
        s.bytes_scanned += result.bytes_scanned
        s.worker_seconds += result.seconds
        s.workers[result.worker] = s.workers.get(result.worker, 0) + 1
        for digest, rows in result.contents:
            self.cache.save(digest, [StoredMatch.from_row(r) for r in _json(rows)])
        for image in self.dependents.pop(result.key, []):
            left = self.waiting[image]
            left.discard(result.key)
            if not left:
                self._image_complete(image)
        if time.monotonic() - self.flushed > FLUSH_EVERY:
            self.flush()

    def _packages(self, key: str) -> object:
        if key not in self.packages:  # cached before this run
            data = self.cache.get_layer(key)
            record = records.decode(data) if data is not None else None
            self.packages[key] = _MISSING if record is None else record.packages
        return self.packages[key]

    def _image_complete(self, image: int) -> None:
        """Every layer of the image is back: the records of the layers first met in it are
        kept when they are what the local audit would write there."""
        del self.waiting[image]
        layers = [layer for layer in self.images[image] if is_scanned(layer)]
        keys = [layer_key(layer) for layer in layers]
        db = PackageDb()
        complete = True
        for key in keys:
            packages = self._packages(key)
            if packages is _MISSING:
                complete = False
            elif isinstance(packages, PackageDb):
                db.merge(packages)
        for key in dict.fromkeys(keys):
            if key not in self.records or self.first[key] != image:
                continue  # cached before, or first met in another image
            data = self.records.pop(key)
            record = records.decode(data) if data is not None else None
            if record is not None and data is not None and complete and _as_local(record, db):
                self.cache.put_layer(key, data)
                self.stats.stored += 1
            else:
                self.stats.left_local += 1
                log.debug("layer %s left to the local audit: %s", key, self.problems.get(key))

    def flush(self) -> None:
        self.cache.flush()
        self.flushed = time.monotonic()


def _json(text: str) -> list[list[object]]:
    import json

    rows: list[list[object]] = json.loads(text)
    return rows


def prefill(
    opts: AuditOptions,
    config: ScanConfig,
    auth: RegistryAuth,
    cache: ContentCache,
    cluster: Cluster,
    policy: str,
    progress: AuditProgress,
    clock: Callable[[], float] = time.monotonic,
) -> ClusterStats:
    """Scan the layers the audit will meet and the cache lacks on the cluster, sent as the
    listing finds them; store what comes back."""
    stats = ClusterStats()
    if cluster.workers() == 0:  # reached first: a wrong address fails before the listing
        log.warning("the Dask scheduler has no workers yet: layer tasks wait for one")
    me = identity(config, cache.key)
    shipped = shippable(config)
    collector = _Collector(cache, stats)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    lister = threading.Thread(
        target=_list, args=(opts, config, auth, events, stop, clock), daemon=True
    )
    progress.start(0)  # the images are audited after the cluster phase
    began = clock()
    lister.start()
    registry = ""
    credentials: Credentials | None = None
    listing, running = True, 0
    try:
        while listing or running:
            kind, payload = events.get()
            if kind == "image":
                repo, layers = payload
                if not registry:
                    registry = registry_name(opts)
                    credentials = auth.credentials(registry)
                for layer in collector.add_image(layers):
                    task = LayerTask(
                        me, shipped, policy, registry, opts.insecure, opts.timeout, repo, layer,
                        credentials,
                    )  # fmt: skip
                    cluster.submit(task, lambda f, t: events.put(("done", (f, t))))
                    running += 1
                    stats.tasks += 1
            elif kind == "done":
                running -= 1
                result = cluster.result(*payload)
                if result.mismatch is not None:
                    raise LeakscanError(f"{result.worker}: {result.mismatch}")
                collector.add(result)
            elif kind == "listed":
                listing = False
                stats.plan_seconds = payload
            elif kind == "error":
                raise payload
            progress.update(
                Snapshot(
                    0,
                    0,
                    f"(cluster: {stats.scanned}/{stats.tasks} layers)",
                    stats.cached,
                    stats.scanned,
                    stats.bytes_scanned,
                    0,
                )
            )
    finally:
        stop.set()
        cluster.cancel()
        collector.flush()
        progress.close()
        stats.cluster_seconds = clock() - began
        lister.join(timeout=30)
    return stats


def registry_name(opts: AuditOptions) -> str:
    """The registry's host[:port] as the audit names it."""
    client = RegistryClient(opts.registry, None, insecure=opts.insecure)
    client.close()
    return client.host


def _list(
    opts: AuditOptions,
    config: ScanConfig,
    auth: RegistryAuth,
    events: queue.Queue[tuple[str, Any]],
    stop: threading.Event,
    clock: Callable[[], float],
) -> None:
    """(In a thread) the audit's enumeration, each image put on ``events`` as it is listed."""
    started = clock()
    try:
        list_images(
            opts, config, auth, lambda repo, layers: events.put(("image", (repo, layers))), stop
        )
    except Stopped:
        return
    except BaseException as exc:  # the main thread reports it
        events.put(("error", exc))
        return
    events.put(("listed", clock() - started))


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
    try:
        stats = prefill(
            opts, config, auth, cache, cluster, policy, progress or NoAuditProgress(), clock
        )
    except KeyboardInterrupt:
        return _stopped(opts, "audit interrupted; run the same command again to resume", True)
    except LeakscanError as exc:
        return _stopped(opts, str(exc), False)
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
    began = clock()
    outcome = run_audit(opts, config, auth, cache, progress, clock)
    stats.local_seconds = clock() - began
    outcome.result.extra["cluster"] = stats.to_dict()
    return outcome


def _stopped(opts: AuditOptions, why: str, interrupted: bool) -> AuditResult:
    result = ScanResult([], [], AuditStats(), errors=[why])
    return AuditResult(result, interrupted=interrupted, stopped=why, registry=registry_name(opts))
