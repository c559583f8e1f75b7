"""A distributed audit on a real Dask cluster reports exactly what a local audit reports."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.audit.conftest import placed, run_cli
from tests.conftest import require
from tests.distributed.conftest import HAVE_DASK, DistWorld

pytestmark = pytest.mark.registry


def audit(
    world: DistWorld,
    tmp: Path,
    name: str,
    scheduler: str | None = None,
    cache: Path | None = None,
) -> tuple[int, dict[str, Any], str]:
    env = {
        "LEAKSCAN_CONTENT_CACHE": str(cache or tmp / f"{name}-content.sqlite"),
        "LEAKSCAN_REGISTRY_USERNAME": world.user,
        "LEAKSCAN_REGISTRY_PASSWORD": world.password,
        "LEAKSCAN_DASK_SCHEDULER": scheduler or "",
    }
    return run_cli(
        ["audit", world.reg.host, "--insecure", "--state", str(tmp / f"{name}-state.sqlite"),
         "--rules", str(world.rules), "--no-progress"],
        tmp / f"{name}-{len(list(tmp.iterdir()))}.json",
        env,
    )  # fmt: skip


def layer_rows(cache: Path) -> set[tuple[str, bytes]]:
    with sqlite3.connect(cache) as conn:
        return {(r[0], bytes(r[1])) for r in conn.execute("SELECT layer, record FROM cc_layers")}


def content_rows(cache: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(cache) as conn:
        return {(r[0], r[1]) for r in conn.execute("SELECT digest, matches FROM cc_contents")}


def findings(doc: dict[str, Any]) -> dict[str, Any]:
    """What a user reads: fingerprints with their severity, locations and states."""
    return {
        f["fingerprint"]: (f["rule_id"], f["severity"], f["confidence"], placed({"findings": [f]}))
        for f in doc["findings"]
    }


@pytest.fixture(scope="module")
def local(
    dist_world: DistWorld, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("local")
    code, doc, _ = audit(dist_world, tmp, "local")
    assert doc["findings"], "the world holds secrets"
    return code, doc, tmp / "local-content.sqlite"


def test_distributed_audit_equals_a_local_one(
    dist_world: DistWorld,
    dask_cluster: Any,
    local: tuple[int, dict[str, Any], Path],
    tmp_path: Path,
) -> None:
    code, doc, out = audit(dist_world, tmp_path, "dist", dask_cluster.address)
    local_code, local_doc, local_cache = local
    assert code == local_code == 1, out
    assert findings(doc) == findings(local_doc)
    states = {json.loads(loc).get("state") for locs in placed(doc).values() for loc in locs}
    assert {"present", "deleted"} <= states
    # the records the workers wrote are the records this machine writes
    assert layer_rows(tmp_path / "dist-content.sqlite") == layer_rows(local_cache)
    assert content_rows(tmp_path / "dist-content.sqlite") == content_rows(local_cache)
    import jsonschema

    import leakscan.report

    schema = json.loads((Path(leakscan.report.__file__).parent / "schema.json").read_text())
    jsonschema.validate(doc, schema)
    cluster = doc["cluster"]
    # 2 bases shared by 8 tags (7 images), 2 app layers, 6 top layers: each unique layer one task
    assert cluster["layers"] == 10
    assert cluster["tasks"] == cluster["scanned"] == cluster["stored"] == 10
    assert sum(cluster["workers"].values()) == 10
    assert cluster["left_local"] == 0
    # the local pipeline afterwards found every layer cached: nothing read twice
    assert doc["stats"]["layers_scanned"] == 0
    assert doc["stats"]["layers_reused"] >= 10


def test_a_second_distributed_audit_sends_nothing(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "shared.sqlite"
    _, first, _ = audit(dist_world, tmp_path, "one", dask_cluster.address, cache)
    _, again, _ = audit(dist_world, tmp_path, "two", dask_cluster.address, cache)
    assert first["cluster"]["tasks"] == 10
    assert again["cluster"]["tasks"] == 0
    assert again["cluster"]["cached"] == 10
    assert findings(again) == findings(first)


def test_credentials_never_reach_cluster_logs_or_task_keys(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path
) -> None:
    code, doc, out = audit(dist_world, tmp_path, "creds", dask_cluster.address)
    assert code == 1 and doc["cluster"]["tasks"] == 10, out
    logs = dask_cluster.log_text()
    # the debug logs do name the tasks: a layer's own (leakscan-layer-sha256:...) or, for
    # small layers sent together as the coordinator's timing allows, a batch's
    assert re.search(r"leakscan-layer-sha256:|leakscan-layers-\d+-[0-9a-f]{40}", logs)
    basic = base64.b64encode(f"{dist_world.user}:{dist_world.password}".encode()).decode()
    for secret in (dist_world.password, basic):
        assert secret not in logs
        assert secret not in out
        assert secret not in json.dumps(doc)


def test_a_worker_of_another_version_is_a_clear_error(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakscan.distributed import coordinator

    monkeypatch.setattr(coordinator, "__version__", "0.0.0-other")
    code, doc, out = audit(dist_world, tmp_path, "version", dask_cluster.address)
    assert code == 2
    assert "runs leakscan version" in out and "no results were mixed" in out
    assert doc["findings"] == []
    assert layer_rows(tmp_path / "version-content.sqlite") == set()


def test_a_worker_with_other_rules_is_a_clear_error(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from leakscan.distributed import coordinator

    real = coordinator.identity
    monkeypatch.setattr(
        coordinator,
        "identity",
        lambda config, key: dataclasses.replace(real(config, key), rules_digest="sha256:other"),
    )
    code, _, out = audit(dist_world, tmp_path, "rules", dask_cluster.address)
    assert code == 2
    assert "rules digest" in out and "no results were mixed" in out


def test_a_worker_killed_mid_audit_costs_only_a_retry(
    dist_world: DistWorld, local: tuple[int, dict[str, Any], Path], tmp_path: Path
) -> None:
    require(HAVE_DASK, "dask[distributed] is not installed (pip install '.[dask]')")
    from distributed import Client

    from tests.distributed.cluster import running_cluster
    from tests.distributed.plugins import DieOnFirstLayer

    with running_cluster(tmp_path / "cluster", ("steady", "victim")) as cluster:
        with Client(cluster.address, set_as_default=False) as client:
            client.register_plugin(DieOnFirstLayer("victim"))
        victim = cluster.workers["victim"]
        code, doc, out = audit(dist_world, tmp_path, "killed", cluster.address)
        assert victim.poll() is not None, "the victim worker took a layer task and died"
    local_code, local_doc, local_cache = local
    assert code == local_code, out
    assert findings(doc) == findings(local_doc)
    assert layer_rows(tmp_path / "killed-content.sqlite") == layer_rows(local_cache)
    cluster_stats = doc["cluster"]
    assert cluster_stats["tasks"] == cluster_stats["scanned"] == cluster_stats["stored"] == 10
    assert set(cluster_stats["workers"]) == {"steady"}


def test_an_interrupted_distributed_audit_resumes(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakscan.distributed import collector

    real = collector.Collector.add
    calls = []

    def interrupted(self: Any, result: Any) -> None:
        calls.append(result.key)
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C while results come in
        real(self, result)

    cache = tmp_path / "resume.sqlite"
    with monkeypatch.context() as m:
        m.setattr(collector.Collector, "add", interrupted)
        code, _, out = audit(dist_world, tmp_path, "resume", dask_cluster.address, cache)
    assert code == 2 and "run the same command again to resume" in out
    code, again, out = audit(dist_world, tmp_path, "resume", dask_cluster.address, cache)
    assert code == 1, out
    # what came back before the interrupt was kept (tags the local audit had reached are in
    # the audit state, complete layers in the content cache): only the rest is sent again
    assert again["cluster"]["tasks"] < 10
    assert again["stats"]["images_from_state"] + again["cluster"]["cached"] >= 1
    _, fresh, _ = audit(dist_world, tmp_path, "fresh")
    assert findings(again) == findings(fresh)


def test_a_layer_no_worker_can_read_fails_its_image_as_locally(
    dask_cluster: Any, tmp_path: Path
) -> None:
    from tests.helpers import github_token, write_rules
    from tests.plugins.registry import api_push, blob_path, make_image, running_registry

    rules = write_rules(tmp_path / "rules")
    with running_registry(tmp_path / "reg") as reg:
        base = {"etc/base.conf": f"token: {github_token()}\n".encode()}
        good = make_image([base, {"app/ok.env": f"T={github_token()}\n".encode()}])
        bad = make_image([base, {"app/gone.env": f"T={github_token()}\n".encode()}])
        api_push(reg, "x/good", "1", good)
        api_push(reg, "x/bad", "1", bad)
        from tests.support.oci import sha

        blob_path(reg, sha(bad.layers[1])).unlink()  # the registry no longer serves it
        world = DistWorld(reg, rules, "", "")
        _, local_doc, _ = audit(world, tmp_path, "local")
        code, doc, out = audit(world, tmp_path, "dist", dask_cluster.address)
    assert code == 1, out
    assert findings(doc) == findings(local_doc)
    assert doc["audit"]["failed"] == local_doc["audit"]["failed"]
    assert [f["image"].split("/", 1)[1] for f in doc["audit"]["failed"]] == ["x/bad:1"]
    # the unreadable layer came back without a record, so its image's package databases are
    # not known: that layer and the base first met beside it are read by this machine
    assert doc["cluster"]["tasks"] == 3 and doc["cluster"]["left_local"] == 2
    assert doc["cluster"]["stored"] == 1


def test_progress_counts_images_and_layers_while_the_cluster_works(
    dist_world: DistWorld, dask_cluster: Any, tmp_path: Path
) -> None:
    from leakscan.api import ScanConfig, cache_key
    from leakscan.audit.progress import Snapshot
    from leakscan.audit.runner import AuditOptions
    from leakscan.cli.audit_progress import status_text
    from leakscan.distributed import Cluster, run_distributed_audit
    from leakscan.sources.registry.auth import Credentials, RegistryAuth

    class Recorder:
        def __init__(self) -> None:
            self.total = -1
            self.snapshots: list[Snapshot] = []

        def start(self, total: int) -> None:
            self.total = total

        def update(self, snapshot: Snapshot) -> None:
            self.snapshots.append(snapshot)

        def close(self) -> None:
            return None

    config = ScanConfig(rule_paths=(dist_world.rules,))
    opts = AuditOptions(dist_world.reg.host, tmp_path / "state.sqlite", insecure=True)
    recorder = Recorder()
    cluster = Cluster(dask_cluster.address)
    try:
        outcome = run_distributed_audit(
            opts, config, RegistryAuth(Credentials(dist_world.user, dist_world.password)), None,
            recorder, cluster, "", cache_key(config),
        )  # fmt: skip
    finally:
        cluster.close()
    assert outcome.stopped is None and outcome.result.extra["cluster"]["tasks"] == 10
    assert recorder.total == 8  # the tags to audit, known before the cluster phase
    # while the first tags wait for their layers, the line counts images and cluster layers
    waiting = [
        s
        for s in recorder.snapshots
        if s.cluster_layers is not None and s.cluster_layers[1] > 0 and s.images_done < 8
    ]
    assert waiting and all(s.images_total == 8 for s in waiting)
    first = waiting[0]
    assert first.cluster_layers is not None and first.cluster_layers[0] < 10
    text = status_text(first, elapsed=1.0)
    assert f"{first.images_done}/8 images" in text
    assert f"cluster {first.cluster_layers[0]}/{first.cluster_layers[1]} layers" in text
    last = recorder.snapshots[-1]
    assert last.images_done == 8 and last.cluster_layers == (10, 10)
