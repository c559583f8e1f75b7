"""An audit reports, for every image, exactly what ``scan image`` reports for it; a resumed
audit reports exactly what a fresh one does (real images in a real registry)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import leakscan.report
from tests.audit.conftest import World, audit, placed, scan_image

pytestmark = pytest.mark.registry

SCHEMA = json.loads((Path(leakscan.report.__file__).parent / "schema.json").read_text())
TAGS = ("au/app:v1", "au/app:alias", "au/web:1")


def _variants(world: World) -> list[list[str]]:
    return [
        ["--config", str(world.config), "--baseline", str(world.baseline)],
        ["--exclude", "srv/cache/*", "--min-confidence", "high"],
        [],
    ]


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_audit_reports_per_image_what_scan_image_reports(
    world: World, tmp_path: Path, variant: int
) -> None:
    args = _variants(world)[variant]
    code, doc, output = audit(world, tmp_path, "--repo", "au/*", *args)
    assert code == 1, output
    jsonschema.validate(doc, SCHEMA)  # the audit's report is the scan's JSON document
    for tag in TAGS:
        ref = f"{world.reg.host}/{tag}"
        scode, sdoc, soutput = scan_image(world, tmp_path, ref, *args)
        assert scode == 1, soutput
        assert placed(doc, ref) == placed(sdoc), ref
        assert placed(sdoc), ref
    found = {f["redacted"][:8] for f in doc["findings"]}
    paths = {loc.get("path") for f in doc["findings"] for loc in f["locations"]}
    assert "app/a.env" in paths  # the plain token; its allowed neighbour is not reported
    allowed = world.secrets["allowed"]
    assert not any(f["redacted"] == f"{allowed[:4]}…{allowed[-4:]}" for f in doc["findings"])
    assert found
    if variant < 2:
        assert "srv/cache/x.txt" not in paths  # --exclude, or the config file's exclude
    if variant == 0:
        assert doc["baseline"]["suppressed"] == 1
    vendor = [
        loc
        for f in doc["findings"]
        for loc in f["locations"]
        if loc.get("path") == "usr/share/tool/sample.conf"
    ]
    if variant != 1:  # ranked low as a vendor file: above --min-confidence high it is gone
        assert vendor and all(loc.get("vendor") for loc in vendor)
    # the same again from the audit state and the content cache: the same report
    code2, doc2, _ = audit(world, tmp_path, "--repo", "au/*", *args)
    assert code2 == code and placed(doc2) == placed(doc)
    assert doc2["stats"]["images_from_state"] == len(TAGS)


def test_fail_on_and_exit_codes_match_scan_image(world: World, tmp_path: Path) -> None:
    ref = f"{world.reg.host}/au/web:1"
    code, doc, output = audit(world, tmp_path, "--repo", "au/web", "--fail-on", "critical")
    scode, _, _ = scan_image(world, tmp_path, ref, "--fail-on", "critical")
    assert doc["findings"] and code == scode == 0, output
    code, _, _ = audit(world, tmp_path, "--repo", "au/web", "--fail-on", "high")
    assert code == 1


def test_resumed_audit_reports_what_a_fresh_one_does(world: World, tmp_path: Path) -> None:
    fresh_dir, resumed_dir = tmp_path / "fresh", tmp_path / "resumed"
    fresh_dir.mkdir()
    resumed_dir.mkdir()
    code, fresh, _ = audit(world, fresh_dir, "--repo", "au/*")
    assert code == 1
    code, first, output = audit(
        world, resumed_dir, "--repo", "au/*", env={"LEAKSCAN_AUDIT_STOP_AFTER": "1"}
    )
    assert code == 2 and "resume" in output
    assert first["stats"]["images_scanned"] == 1
    code, resumed, _ = audit(world, resumed_dir, "--repo", "au/*")
    assert code == 1
    assert resumed["stats"]["images_from_state"] == 1
    assert resumed["stats"]["images_scanned"] == len(TAGS) - 1
    assert placed(resumed) == placed(fresh)
    # each place once: the AWS key in two env entries, each listed once, without a column
    aws = [
        loc for f in resumed["findings"] for loc in f["locations"] if loc["kind"] == "image-config"
    ]
    fields = [(loc["image"], loc["field"]) for loc in aws]
    assert len(fields) == len(set(fields)) == 4  # 2 entries x 2 tags
    assert all("column" not in loc for loc in aws)
    # and a third run, all from the state, once more the same
    code, again, _ = audit(world, resumed_dir, "--repo", "au/*")
    assert code == 1 and placed(again) == placed(fresh)
