"""What comes back from the cluster, into the coordinator's content cache.

Contents go in at once (a content's matches are the same in every image). A layer's record
goes in once every layer of the image it is first met in is back, and only when its files'
vendor hashes are those the local audit computes in that image (they depend on the package
databases of all its layers); otherwise the local audit reads the layer itself.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from leakscan.distributed.enumerate import is_scanned
from leakscan.distributed.payload import LayerResult
from leakscan.sources.image import records
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.image.records import LayerRecord
from leakscan.sources.image.source import layer_key
from leakscan.sources.image.vendor import PackageDb
from leakscan.store.content_cache import ContentCache, StoredMatch

log = logging.getLogger(__name__)

FLUSH_EVERY = 2.0  # seconds between content cache commits while results come in


@dataclass(slots=True)
class ClusterStats:
    layers: int = 0  # unique layers the audit will meet
    cached: int = 0  # already in the content cache
    tasks: int = 0  # layers sent to the cluster
    dask_tasks: int = 0  # the Dask tasks they travelled in (small layers share one)
    scanned: int = 0  # records (or problems) returned, one per task
    stored: int = 0  # layer records put in the cache
    left_local: int = 0  # no record, or one the local audit must write itself
    bytes_scanned: int = 0
    worker_seconds: float = 0.0
    worker_cpu: float = 0.0  # the tasks' own CPU on the workers (Dask's is not counted)
    plan_seconds: float = 0.0
    cluster_seconds: float = 0.0
    local_seconds: float = 0.0
    # the coordinator's own CPU (seconds), by what it spent it on: submitting tasks, taking
    # results into the content cache (decode, store, commit), waiting for the cluster between
    # two images, its local pass, its listing thread, the rest (Dask's communication thread)
    cpu_submit: float = 0.0
    cpu_collect: float = 0.0
    cpu_local: float = 0.0
    cpu_listing: float = 0.0
    cpu_total: float = 0.0
    waited_seconds: float = 0.0  # the local pass waiting for the cluster (wall time)
    workers: dict[str, int] = field(default_factory=dict)  # worker -> layers it scanned

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


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


class Collector:
    """Results into the content cache; a layer's record once every layer of the image it is
    first met in is back (the package databases of that image decide its vendor hashes).
    Images arrive in the audit's order while the cluster works."""

    def __init__(self, cache: ContentCache, stats: ClusterStats) -> None:
        self.cache, self.stats = cache, stats
        self.images: list[tuple[LayerRef, ...]] = []
        self.first: dict[str, int] = {}  # layer -> the image it is first met in
        self.sent: set[str] = set()
        # sent layer -> its record (encoded, decoded), until kept
        self.records: dict[str, tuple[bytes, LayerRecord] | None] = {}
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

    def pending(self, image: int) -> bool:
        """The image (by its index in the listing) still waits for layers from the cluster."""
        return image in self.waiting

    def add(self, result: LayerResult) -> None:
        if result.key in self.seen:  # a task's result is taken once
            return
        if result.record is not None and result.cache_key != self.cache.key:
            # scanned for another audit sharing the cluster (other rules or options)
            why = "scanned for another configuration (another audit shares the cluster)"
            result = LayerResult(result.digest, result.key, None, [], problem=why)
        self.seen.add(result.key)
        record = records.decode(result.record) if result.record is not None else None
        self.records[result.key] = (
            None if record is None or result.record is None else (result.record, record)
        )
        self.problems[result.key] = result.problem
        self.packages[result.key] = _MISSING if record is None else record.packages
        s = self.stats
        s.scanned += 1
        s.bytes_scanned += result.bytes_scanned
        s.worker_seconds += result.seconds
        s.worker_cpu += result.cpu_seconds
        s.workers[result.worker] = s.workers.get(result.worker, 0) + 1
        for digest, rows in result.contents:
            matches = [] if rows == "[]" else [StoredMatch.from_row(r) for r in _json(rows)]
            self.cache.save(digest, matches)  # most contents match nothing: no JSON to read
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
            kept = self.records.pop(key)
            if kept is not None and complete and _as_local(kept[1], db):
                self.cache.put_layer(key, kept[0])
                self.stats.stored += 1
            else:
                self.stats.left_local += 1
                log.debug("layer %s left to the local audit: %s", key, self.problems.get(key))

    def flush(self) -> None:
        self.cache.flush()
        self.flushed = time.monotonic()


def _json(text: str) -> list[list[object]]:
    rows: list[list[object]] = json.loads(text)
    return rows
