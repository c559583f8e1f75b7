"""The parts of a distributed audit that need no cluster: what a task shows, which worker
records the coordinator keeps, and a scheduler that cannot be reached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.api import ScanConfig
from leakscan.cli import app
from leakscan.distributed.collector import _as_local
from leakscan.distributed.coordinator import identity
from leakscan.distributed.payload import LayerTask, shippable, task_key
from leakscan.distributed.worker import mismatch
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.image.records import FileRecord, LayerRecord
from leakscan.sources.image.vendor import PackageDb
from leakscan.sources.registry.auth import Credentials
from tests.conftest import require
from tests.distributed.conftest import HAVE_DASK
from tests.plugins.registry import free_port


def test_a_task_shows_its_layer_never_its_credentials_or_key() -> None:
    config = ScanConfig(fingerprint_key=b"fp-key-4711")
    layer = LayerRef("sha256:" + "a" * 64, size=10)
    task = LayerTask(
        identity(config, "ck1:x"), shippable(config), "p", "reg:5000", False, None, "team/app",
        layer, Credentials("auditor", "hunter2-secret-pw"),
    )  # fmt: skip
    shown = repr(task) + str(task)
    assert "reg:5000/team/app@sha256:aaaa" in shown
    assert "hunter2-secret-pw" not in shown and "fp-key-4711" not in shown
    assert task_key(layer.digest) == "leakscan-layer-sha256:" + "a" * 64


def test_a_worker_of_another_identity_says_what_differs() -> None:
    config = ScanConfig()
    mine = identity(config, "ck1:x")
    import dataclasses

    assert mismatch(mine, mine) is None
    theirs = dataclasses.replace(mine, rules_digest="sha256:other")
    assert "rules digest" in (mismatch(mine, theirs) or "")


def _record(path: str, hashes: dict[str, str]) -> LayerRecord:
    return LayerRecord(files=[FileRecord(path, "sha256:" + "b" * 64, hashes)])


def test_a_record_is_kept_only_with_the_hashes_its_first_image_needs() -> None:
    sha = {"sha256": "b" * 64}
    md5 = hashlib.md5(b"x").hexdigest()
    db = PackageDb()
    db.add_db("var/lib/dpkg/info/tool.md5sums", f"{md5}  usr/share/tool.conf\n".encode())
    # another layer's database vouches for the file: the worker did not know, the local audit
    # would have hashed it with md5 too, so the record is left to the local audit
    assert not _as_local(_record("usr/share/tool.conf", sha), db)
    assert _as_local(_record("usr/share/tool.conf", {**sha, "md5": md5}), db)
    assert _as_local(_record("etc/other.conf", sha), db)
    assert _as_local(_record("big.bin", {}), db)  # streamed: no hashes anywhere


def test_an_unreachable_scheduler_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require(HAVE_DASK, "dask[distributed] is not installed")
    from leakscan.distributed import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    result = CliRunner().invoke(
        app,
        ["audit", f"127.0.0.1:{free_port()}", "--state", str(tmp_path / "s.sqlite"),
         "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.output
    assert "Traceback" not in result.output


def test_records_are_kept_whatever_order_the_workers_answer_in() -> None:
    from leakscan.distributed.collector import ClusterStats, Collector
    from leakscan.distributed.payload import LayerResult
    from leakscan.sources.image import records
    from leakscan.store.content_cache import ContentCache
    from leakscan.store.db import connect

    def layer(n: int) -> LayerRef:
        return LayerRef(f"sha256:{n:064x}", size=1)

    base, app, web = layer(1), layer(2), layer(3)
    cache = ContentCache(connect(":memory:"), "ck1:x")
    stats = ClusterStats()
    collector = Collector(cache, stats)
    assert collector.add_image((base, app)) == [base, app]
    assert collector.add_image((base, web)) == [web]  # the base is sent once

    def result(ref: LayerRef) -> LayerResult:
        rec = records.encode(_record(f"f{ref.digest[-1]}", {"sha256": "b" * 64}))
        return LayerResult(
            ref.digest, ref.digest, rec, [("sha256:" + "b" * 64, "[]")], cache_key="ck1:x"
        )

    for ref in (web, app, web, base):  # the shared base last; web's result twice (a retry)
        collector.add(result(ref))
    collector.flush()
    assert (stats.scanned, stats.stored, stats.left_local) == (3, 3, 0)
    assert all(cache.get_layer(ref.digest) is not None for ref in (base, app, web))


def test_a_result_made_for_another_configuration_is_not_stored() -> None:
    """Two audits sharing a cluster share a layer's task key: a result scanned with other
    rules or options is left to the local pass."""
    from leakscan.distributed.collector import ClusterStats, Collector
    from leakscan.distributed.payload import LayerResult
    from leakscan.sources.image import records
    from leakscan.store.content_cache import ContentCache
    from leakscan.store.db import connect

    only = LayerRef("sha256:" + "c" * 64, size=1)
    cache = ContentCache(connect(":memory:"), "ck1:mine")
    stats = ClusterStats()
    collector = Collector(cache, stats)
    assert collector.add_image((only,)) == [only]
    rec = records.encode(_record("f", {"sha256": "b" * 64}))
    content = ("sha256:" + "b" * 64, "[]")
    collector.add(LayerResult(only.digest, only.digest, rec, [content], cache_key="ck1:theirs"))
    collector.flush()
    assert (stats.stored, stats.left_local) == (0, 1)
    assert cache.get_layer(only.digest) is None and not cache.known(content[0])
