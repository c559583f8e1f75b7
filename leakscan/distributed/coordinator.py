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
from typing import Any

from leakscan import __version__
from leakscan.api import ScanConfig, engine_version, load_detector
from leakscan.audit.progress import AuditProgress, NoAuditProgress, Snapshot
from leakscan.audit.runner import AuditOptions, AuditResult, AuditStats, run_audit
from leakscan.distributed.cluster import Cluster
from leakscan.distributed.collector import ClusterStats, Collector
from leakscan.distributed.enumerate import Stopped, list_images
from leakscan.distributed.payload import Identity, LayerTask, shippable
from leakscan.errors import LeakscanError
from leakscan.model import ScanResult
from leakscan.sources.registry.auth import Credentials, RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from leakscan.store.content_cache import ContentCache
from leakscan.store.db import connect

log = logging.getLogger(__name__)


def identity(config: ScanConfig, key: str) -> Identity:
    return Identity(__version__, engine_version(), load_detector(config).digest, key)


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
    collector = Collector(cache, stats)
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
