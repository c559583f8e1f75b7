"""Small layers travel to the cluster together; large ones alone; no worker waits for a batch
to fill (no cluster needed: a stand-in records what would be sent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leakscan.api import ScanConfig
from leakscan.audit.runner import AuditOptions
from leakscan.distributed.batches import BATCH_BYTES, Batches
from leakscan.distributed.coordinator import Dispatch, identity
from leakscan.distributed.payload import LayerResult, LayerTask, batch_key, shippable, task_key
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.registry.auth import RegistryAuth
from leakscan.store.content_cache import ContentCache
from leakscan.store.db import connect

MB = 1024 * 1024


def layer(n: int, size: int | None) -> LayerRef:
    return LayerRef(f"sha256:{n:064x}", size=size)


def task(ref: LayerRef) -> LayerTask:
    config = ScanConfig()
    return LayerTask(
        identity(config, "ck1:x"), shippable(config), "", "reg:5000", False, None, "r", ref
    )


def digests(batch: tuple[LayerTask, ...]) -> list[str]:
    return [t.layer.digest for t in batch]


def test_small_layers_fill_a_batch_and_large_ones_go_alone() -> None:
    batches = Batches(max_bytes=16 * MB, per_layer=MB)
    big, unknown = layer(1, 40 * MB), layer(2, None)
    assert digests(batches.add(task(big)) or ()) == [big.digest]
    assert digests(batches.add(task(unknown)) or ()) == [unknown.digest]
    small = [layer(10 + i, 5 * MB) for i in range(4)]
    assert batches.add(task(small[0])) is None
    assert batches.add(task(small[1])) is None
    # 3 x (5 MB + 1 MB for the layer's own cost): the batch is full
    assert digests(batches.add(task(small[2])) or ()) == [s.digest for s in small[:3]]
    assert batches.add(task(small[3])) is None
    assert digests(batches.take()) == [small[3].digest]
    assert batches.take() == ()
    # tiny layers: their own cost fills a batch
    tiny = [layer(20 + i, 1) for i in range(16)]
    assert all(batches.add(task(t)) is None for t in tiny[:15])
    assert digests(batches.add(task(tiny[15])) or ()) == [t.digest for t in tiny]


def test_a_batch_key_names_its_layers_whatever_their_order() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert batch_key([a]) == task_key(a)
    assert batch_key([a, b]) == batch_key([b, a]) != batch_key([a])
    assert batch_key([a, b]).startswith("leakscan-layers-2-")


class StandIn:
    """What the coordinator sends, to a cluster of ``threads`` worker threads."""

    def __init__(self, threads: int) -> None:
        self.n = threads
        self.sent: list[list[str]] = []

    def threads(self) -> int:
        return self.n

    def submit(self, tasks: tuple[LayerTask, ...], done: Callable[[Any, Any], None]) -> None:
        self.sent.append(digests(tasks))

    def results(self, future: Any, tasks: tuple[LayerTask, ...]) -> list[LayerResult]:
        return []


def test_one_task_per_worker_thread_the_next_ones_in_the_listings_order(
    tmp_path: Path,
) -> None:
    cluster = StandIn(threads=2)
    cache = ContentCache(connect(":memory:"), "ck1:x")
    opts = AuditOptions("reg:5000", tmp_path / "state.sqlite")
    dispatch = Dispatch(opts, ScanConfig(), RegistryAuth(), cache, cluster, "")  # type: ignore[arg-type]
    base, runtime = layer(1, BATCH_BYTES), layer(2, 3 * MB)
    apps = [layer(10 + i, 3 * MB) for i in range(4)]

    def image(tag: str, *layers: LayerRef) -> None:
        dispatch.events.put(("image", ("r", tag, layers)))
        dispatch.pump()

    def done() -> None:  # a worker thread is free again
        dispatch.events.put(("done", (None, ())))
        dispatch.pump()

    image("1", base, runtime, apps[0])
    # the base alone, and the small layers at once: a worker thread was free
    assert cluster.sent == [[base.digest], [runtime.digest, apps[0].digest]]
    image("2", base, runtime, apps[1])
    image("3", base, runtime, apps[2])
    image("4", base, runtime, apps[3])  # 3 x (3 + 0.5 MB): a full batch, kept here
    dispatch.events.put(("listed", 0.0))
    dispatch.pump()
    # both threads busy: nothing queues on the cluster behind their tasks
    assert len(cluster.sent) == 2 and len(dispatch.queue) == 1
    assert dispatch.stats.tasks == 3  # the progress line counts the layers sent
    done()
    assert cluster.sent[2:] == [[a.digest for a in apps[1:]]]
    assert (dispatch.stats.tasks, dispatch.stats.dask_tasks) == (6, 3)


def test_a_layer_failing_in_a_batch_leaves_only_itself_to_the_local_audit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leakscan.distributed import worker

    good, bad = layer(1, MB), layer(2, MB)

    def scan(t: LayerTask, key: str) -> LayerResult:
        if t.layer == bad:
            raise RuntimeError("unexpected")
        return LayerResult(t.layer.digest, key, b"record", [], cache_key="ck1:x")

    def twin(ref: LayerRef) -> LayerTask:  # a task this worker may scan (same identity)
        made = task(ref)
        return dataclasses.replace(made, identity=worker.identity_of(made))

    monkeypatch.setattr(worker, "_scan", scan)
    results = worker.scan_layers((twin(good), twin(bad)))
    assert [r.digest for r in results] == [good.digest, bad.digest]
    assert results[0].record == b"record" and results[0].problem is None
    assert results[1].record is None and "unexpected" in (results[1].problem or "")
    # a task of one layer fails as a whole: Dask runs it again on another worker
    with pytest.raises(RuntimeError):
        worker.scan_layers((twin(bad),))
