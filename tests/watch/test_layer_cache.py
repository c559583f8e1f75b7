"""Layers are scanned once across restarts: a new image on a cached layer reads only its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from leakscan.api import ScanConfig
from leakscan.model import ScanResult
from leakscan.sources.image.daemon import DaemonStore
from leakscan.store.layer_cache import LayerCache
from leakscan.watch.daemon import DockerDaemon
from leakscan.watch.scanning import UnitScanner
from leakscan.watch.state import WatchState
from tests.sources.image.helpers import RULE_ID, token
from tests.watch.conftest import Planted


def _units(rules: Path, state: WatchState | None) -> UnitScanner:
    config = ScanConfig(rule_paths=(rules,), jobs=1)
    config.enable = (RULE_ID,)
    cache = LayerCache(state.conn) if state is not None else None
    return UnitScanner(config, lambda r: r, cache=cache)


def _places(result: ScanResult) -> dict[str, list[dict[str, Any]]]:
    return {
        f.fingerprint: sorted((loc.to_dict() for loc in f.locations), key=str)
        for f in result.findings
    }


def test_a_new_image_on_a_cached_layer_reads_only_its_new_layer(
    planted: Planted, watch_rules: Path, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    second = token()
    (ctx / "new.txt").write_text(f"token={second}\n")
    (ctx / "Dockerfile").write_text(f"FROM {planted.image}\nCOPY new.txt /srv/new.txt\n")
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(
        ["docker", "build", "-q", "-t", "leakscan-watch-b:1", str(ctx)],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    daemon = DockerDaemon()
    a, b = daemon.image(planted.image), daemon.image("leakscan-watch-b:1")
    daemon.close()
    assert a is not None and b is not None

    state = WatchState(tmp_path / "w.sqlite")
    first = _units(watch_rules, state).image(a, planted.image)
    assert first.stats.layers_scanned == 1
    state.close()

    # a restart: a new process, the same state file; the base layer is not read again
    state = WatchState(tmp_path / "w.sqlite")
    result = _units(watch_rules, state).image(b, "leakscan-watch-b:1")
    assert (result.stats.layers_scanned, result.stats.layers_reused) == (1, 1)
    fresh = _units(watch_rules, None).image(b, "leakscan-watch-b:1")  # no cache: reads both
    assert fresh.stats.layers_scanned == 2
    assert _places(result) == _places(fresh)  # the same findings, placed the same
    secrets = {f.secret for f in result.findings}
    assert second in secrets  # the new layer's, scanned now
    assert planted.layer_secret not in secrets  # the cached layer's: fingerprint only
    [layer] = [
        loc
        for f in result.findings
        for loc in f.locations
        if loc.provenance.kind == "image-layer" and loc.provenance.fields["layer_index"] == 0
    ]
    assert layer.provenance.fields["path"] == "app/.env"
    assert layer.provenance.fields["image"] == "docker-daemon:leakscan-watch-b:1"


def test_an_image_whose_layers_are_all_known_is_not_saved(
    planted: Planted, watch_rules: Path, tmp_path: Path
) -> None:
    # a rebuild that changed only the configuration: no new layer, a new image
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    label = token()
    (ctx / "Dockerfile").write_text(f"FROM {planted.image}\nLABEL deploy.token={label}\n")
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(
        ["docker", "build", "-q", "-t", "leakscan-watch-relabel:1", str(ctx)],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    daemon = DockerDaemon()
    a, c = daemon.image(planted.image), daemon.image("leakscan-watch-relabel:1")
    assert a is not None and c is not None
    saves: list[str] = []

    class Counting(DaemonStore):
        def _save(self) -> Any:
            saves.append(self.reference)
            return super()._save()

    def units(state: WatchState | None) -> UnitScanner:
        config = ScanConfig(rule_paths=(watch_rules,), jobs=1)
        config.enable = (RULE_ID,)
        cache = LayerCache(state.conn) if state is not None else None
        return UnitScanner(config, lambda r: r, cache=cache, store_factory=Counting)

    state = WatchState(tmp_path / "w.sqlite")
    units(state).image(a, planted.image)  # its one layer goes into the cache
    state.close()
    saves.clear()

    state = WatchState(tmp_path / "w.sqlite")  # a restart
    result = units(state).image(c, "leakscan-watch-relabel:1", lambda: daemon.history(c["Id"]))
    assert saves == [] and result.stats.layers_scanned == 0
    fresh = units(None).image(c, "leakscan-watch-relabel:1")
    assert saves  # without the cache the image is saved and its layer read
    daemon.close()
    assert _places(result) == _places(fresh)  # layer, env, label, history: placed the same
    fields = {loc.provenance.fields.get("field") for f in result.findings for loc in f.locations}
    assert {"Labels[deploy.token]", "Env[IMAGE_TOKEN]"} <= fields
