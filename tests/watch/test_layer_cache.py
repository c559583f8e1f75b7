"""Layers are scanned once across restarts and commands (the content cache ``scan image`` and
``audit`` use): a new image on a cached layer reads only its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from leakscan.api import ScanConfig, cache_key
from leakscan.model import ScanResult
from leakscan.sources.image.daemon import DaemonStore
from leakscan.store.content_cache import ContentCache
from leakscan.watch.daemon import DockerDaemon
from leakscan.watch.scanning import UnitScanner
from tests.sources.image.helpers import RULE_ID, token
from tests.watch.conftest import Planted, docker, rootfs


def _config(rules: Path) -> ScanConfig:
    config = ScanConfig(rule_paths=(rules,), jobs=1)
    config.enable = (RULE_ID,)
    return config


def _cache(path: Path | None, rules: Path) -> ContentCache | None:
    return None if path is None else ContentCache.open(path, cache_key(_config(rules)))


def _units(rules: Path, cache: Path | None) -> UnitScanner:
    return UnitScanner(_config(rules), lambda r: r, cache=_cache(cache, rules))


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

    cache = tmp_path / "content.sqlite"
    first_units = _units(watch_rules, cache)
    first = first_units.image(a, planted.image)
    assert first.stats.layers_scanned == 1
    assert first_units.cache is not None
    first_units.cache.close()

    # a restart: a new process, the same cache file; the base layer is not read again
    result = _units(watch_rules, cache).image(b, "leakscan-watch-b:1")
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

    def units(cache: Path | None) -> UnitScanner:
        return UnitScanner(
            _config(watch_rules),
            lambda r: r,
            cache=_cache(cache, watch_rules),
            store_factory=Counting,
        )

    cache = tmp_path / "content.sqlite"
    first = units(cache)
    first.image(a, planted.image)  # its one layer goes into the cache
    assert first.cache is not None
    first.cache.close()
    saves.clear()

    result = units(cache).image(c, "leakscan-watch-relabel:1", lambda: daemon.history(c["Id"]))
    assert saves == [] and result.stats.layers_scanned == 0
    fresh = units(None).image(c, "leakscan-watch-relabel:1")
    assert saves  # without the cache the image is saved and its layer read
    daemon.close()
    assert _places(result) == _places(fresh)  # layer, env, label, history: placed the same
    fields = {loc.provenance.fields.get("field") for f in result.findings for loc in f.locations}
    assert {"Labels[deploy.token]", "Env[IMAGE_TOKEN]"} <= fields


def _cli(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LEAKSCAN_CONTENT_CACHE=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args], capture_output=True, text=True, env=env
    )


def test_watch_reuses_a_layer_scan_image_scanned(watch_rules: Path, tmp_path: Path) -> None:
    # an image of its own: no other image of the daemon has its layer
    image = "leakscan-watch-shared:1"
    docker("import", "-", image, input=rootfs({"srv/app.env": f"TOKEN={token()}\n"}))
    cache = tmp_path / "content.sqlite"  # $LEAKSCAN_CONTENT_CACHE, as a user shares it
    rules = ["--rules", str(watch_rules)]
    scan = _cli("scan", "image", f"docker-daemon:{image}", *rules, "-f", "json", cache=cache)
    assert scan.returncode == 1, scan.stderr
    stats = json.loads(scan.stdout)["stats"]
    assert (stats["layers_scanned"], stats["layers_reused"]) == (1, 0)

    state = str(tmp_path / "w.sqlite")
    out = tmp_path / "watch.jsonl"
    watch = _cli("watch", "--once", "-v", "--state", state, "-o", str(out), *rules, cache=cache)
    assert watch.returncode == 1, watch.stderr
    assert f"image {image}: 0 layer(s) scanned, 1 reused" in watch.stderr
    layer = [
        loc
        for line in out.read_text().splitlines()
        for loc in json.loads(line)["locations"]
        if loc["kind"] == "image-layer" and loc.get("image") == f"docker-daemon:{image}"
    ]
    assert [(loc["path"], loc["layer_index"]) for loc in layer] == [("srv/app.env", 0)]

    # without the shared cache, watch reads the layer itself
    cold = _cli(
        "watch", "--once", "-v", "--state", str(tmp_path / "w2.sqlite"), "-o", os.devnull, *rules,
        cache=tmp_path / "other.sqlite",
    )  # fmt: skip
    assert f"image {image}: 1 layer(s) scanned, 0 reused" in cold.stderr, cold.stderr


def test_scan_image_reuses_a_layer_watch_scanned(
    planted: Planted, watch_rules: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "content.sqlite"
    rules = ["--rules", str(watch_rules)]
    state = str(tmp_path / "w.sqlite")
    watch = _cli("watch", "--once", "--state", state, "-o", os.devnull, *rules, cache=cache)
    assert watch.returncode == 1, watch.stderr
    ref = f"docker-daemon:{planted.image}"
    scan = _cli("scan", "image", ref, *rules, "-f", "json", cache=cache)
    assert scan.returncode == 1, scan.stderr
    report = json.loads(scan.stdout)
    assert (report["stats"]["layers_scanned"], report["stats"]["layers_reused"]) == (0, 1)
    paths = {
        loc.get("path") for f in report["findings"] for loc in f["locations"] if loc.get("path")
    }
    assert "app/.env" in paths  # the cached layer's finding, placed in the image
