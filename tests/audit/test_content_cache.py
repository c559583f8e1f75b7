"""The content cache every image scan consults: a new tag on base layers an audit (or an
earlier scan) read scans only its new layers, and reports what a scan without it reports."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.audit.conftest import World, audit, placed, scan_image
from tests.helpers import github_token
from tests.plugins.registry import api_push, make_image

pytestmark = pytest.mark.registry


def test_scan_image_of_a_new_tag_scans_only_its_new_layer(world: World, tmp_path: Path) -> None:
    cache = tmp_path / "content.sqlite"
    code, doc, output = audit(world, tmp_path, "--repo", "au/web", cache=cache)
    assert code == 1, output
    assert doc["stats"]["layers_scanned"] == 2

    # a new tag, built on the audited image's base layer
    new_token = github_token()
    api_push(
        world.reg,
        "cc/cached",
        "1",
        make_image([world.base, {"opt/new.txt": f"t={new_token}\n".encode()}]),
    )
    ref = f"{world.reg.host}/cc/cached:1"
    code, warm, output = scan_image(world, tmp_path, ref, cache=cache)
    assert code == 1, output
    assert (warm["stats"]["layers_scanned"], warm["stats"]["layers_reused"]) == (1, 1)
    code, cold, _ = scan_image(world, tmp_path, ref)  # no cache: both layers read
    assert cold["stats"]["layers_scanned"] == 2
    assert placed(warm) == placed(cold)
    paths = {loc.get("path") for f in warm["findings"] for loc in f["locations"]}
    assert {"opt/new.txt", "etc/base.conf", "usr/share/tool/sample.conf"} <= paths

    # again: nothing read at all
    code, again, _ = scan_image(world, tmp_path, ref, cache=cache)
    assert (again["stats"]["layers_scanned"], again["stats"]["layers_reused"]) == (0, 2)
    assert placed(again) == placed(cold)

    # options that change what a layer yields make another cache key: read again
    code, other, _ = scan_image(world, tmp_path, ref, "--exclude", "opt/*", cache=cache)
    assert other["stats"]["layers_scanned"] == 2
    assert "opt/new.txt" not in {
        loc.get("path") for f in other["findings"] for loc in f["locations"]
    }


def test_a_layer_with_a_large_file_is_read_once(world: World, tmp_path: Path) -> None:
    """A file over the in-memory bound is streamed; its layer is still reused (in the run and
    from the cache), and placed as a fresh scan places it."""
    token = github_token()
    big = (b"# log line with nothing in it\n" * 330_000) + f"GITHUB_TOKEN={token}\n".encode()
    assert len(big) > 8 * 1024 * 1024
    zipped = gzip.compress(f"changes\nGITHUB_TOKEN={github_token()}\n".encode(), mtime=0)
    shared: dict[str, bytes | None] = {
        "var/log/big.log": big,  # streamed
        "usr/lib/blob.bin": b"\0" * 9_000_000,  # streamed, binary: skipped
        "usr/share/doc/tool/changelog.gz": zipped,  # a compressed file: its member streamed
    }
    for n in (1, 2):
        image = make_image([shared, {f"srv/{n}.txt": f"n={n}\n".encode()}])
        api_push(world.reg, "bigfile/app", str(n), image)
    cache = tmp_path / "content.sqlite"
    code, doc, output = audit(world, tmp_path, "--repo", "bigfile/*", cache=cache)
    assert code == 1, output
    assert (doc["stats"]["layers_scanned"], doc["stats"]["layers_reused"]) == (3, 1)
    ref = f"{world.reg.host}/bigfile/app:2"
    code, cold, _ = scan_image(world, tmp_path, ref)
    code, warm, _ = scan_image(world, tmp_path, ref, cache=cache)
    assert (warm["stats"]["layers_scanned"], warm["stats"]["layers_reused"]) == (0, 2)
    assert placed(warm) == placed(cold) == placed(doc, ref)
    paths = {loc["path"] for f in cold["findings"] for loc in f["locations"]}
    assert paths == {"var/log/big.log", "usr/share/doc/tool/changelog.gz!changelog"}
