"""scan image with the content cache, on a real docker build (deleted, overwritten and vendor
files, env and labels): layers scanned by an earlier run are not read again, and every finding
is placed as a scan without the cache places it (the same image through another transport
too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sources.image.conftest import BuiltImage
from tests.sources.image.helpers import run_cli


def _places(doc: dict[str, Any]) -> dict[str, list[str]]:
    return {
        f["fingerprint"]: sorted(json.dumps(loc, sort_keys=True) for loc in f["locations"])
        for f in doc["findings"]
    }


def _scan(rules: Path, ref: str) -> dict[str, Any]:
    code, doc, err = run_cli(["scan", "image", ref, "--rules", str(rules), "-f", "json"])
    assert code == 1 and doc is not None, err
    return doc


def test_layers_from_the_cache_placed_as_scanned(
    built_image: BuiltImage, image_rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = f"docker-archive:{built_image.archive}"
    oci = f"oci:{built_image.oci_dir}:v1"
    cold_archive, cold_oci = _scan(image_rules, archive), _scan(image_rules, oci)
    monkeypatch.setenv("LEAKSCAN_CONTENT_CACHE", str(tmp_path / "content.sqlite"))
    first = _scan(image_rules, archive)  # fills the cache
    assert first["stats"]["layers_scanned"] == cold_archive["stats"]["layers_scanned"] > 0
    again = _scan(image_rules, archive)
    other = _scan(image_rules, oci)  # the same layers, another transport
    for doc, cold in ((again, cold_archive), (other, cold_oci)):
        assert doc["stats"]["layers_scanned"] == 0
        assert doc["stats"]["layers_reused"] == cold["stats"]["layers_scanned"]
        assert _places(doc) == _places(cold)
        assert [f["confidence"] for f in doc["findings"]] == [
            f["confidence"] for f in cold["findings"]
        ]
    assert any(loc.get("vendor") for f in other["findings"] for loc in f["locations"])
