"""Tags of one image are scanned once; a tag that moves between audits is scanned again."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.audit.twins import retarget
from leakscan.store.audit_state import DoneTag
from tests.audit.conftest import World, audit, placed, scan_image
from tests.helpers import github_token
from tests.plugins.registry import api_push, make_image


def _image(world: World, path: str, token: str):  # type: ignore[no-untyped-def]
    return make_image([world.base, {path: f"TOKEN={token}\n".encode()}])


def _status(doc: dict, ref: str) -> str:  # type: ignore[type-arg]
    return next(t["status"] for t in doc["audit"]["tags"] if t["image"] == ref)


def _same_as_scan_image(world: World, tmp: Path, doc: dict, refs: list[str]) -> None:  # type: ignore[type-arg]
    for ref in refs:
        code, sdoc, output = scan_image(world, tmp, ref)
        assert code == 1, output
        assert placed(doc, ref) == placed(sdoc), ref


@pytest.mark.registry
def test_tags_of_one_image_and_tags_moved_between_audits(world: World, tmp_path: Path) -> None:
    reg = world.reg
    s1, s2, s3 = github_token(), github_token(), github_token()
    one, two = _image(world, "app/one.env", s1), _image(world, "app/two.env", s2)
    api_push(reg, "tw/a", "x", one)
    api_push(reg, "tw/a", "y", one)  # the same image as tw/a:x
    api_push(reg, "tw/b", "z", two)
    refs = [f"{reg.host}/tw/a:x", f"{reg.host}/tw/a:y", f"{reg.host}/tw/b:z"]

    code, first, output = audit(world, tmp_path, "--repo", "tw/*")
    assert code == 1, output
    assert first["stats"]["images_scanned"] == 3
    assert [_status(first, r) for r in refs] == ["scanned"] * 3
    _same_as_scan_image(world, tmp_path, first, refs)
    assert placed(first, refs[1])  # the tag that took its twin's findings has them

    # between audits: x moves to a new image, y to z's image, and w is added on x's old one
    api_push(reg, "tw/a", "x", _image(world, "app/three.env", s3))
    api_push(reg, "tw/a", "y", two)
    api_push(reg, "tw/b", "w", one)
    refs.append(f"{reg.host}/tw/b:w")
    code, second, output = audit(world, tmp_path, "--repo", "tw/*")
    assert code == 1, output
    _same_as_scan_image(world, tmp_path, second, refs)
    statuses = {r.rsplit("/", 1)[-1]: _status(second, r) for r in refs}
    assert statuses == {"a:x": "scanned", "a:y": "scanned", "b:z": "state", "b:w": "scanned"}
    assert second["stats"]["images_from_state"] == 1
    redacted = {f"{s[:4]}…{s[-4:]}": s for s in (s1, s2, s3)}
    found = {
        (loc["image"].rsplit("/", 1)[-1], redacted[f["redacted"]])
        for f in second["findings"]
        if f["redacted"] in redacted
        for loc in f["locations"]
    }
    assert found == {("a:x", s3), ("a:y", s2), ("b:z", s2), ("b:w", s1)}

    # and once more, everything from the state: the same report
    code, third, _ = audit(world, tmp_path, "--repo", "tw/*")
    assert code == 1 and placed(third) == placed(second)
    assert third["stats"]["images_from_state"] == len(refs)


def _row(fields: dict) -> list:  # type: ignore[type-arg]
    return ["fp", "rule", "high", "high", "ghp_…abcd", "sd", None, "image-layer", fields, None,
            False, 1, 5, []]  # fmt: skip


def test_retarget_swaps_the_name_where_it_is_the_image() -> None:
    old, new = "reg:5000/a:1", "reg:5000/b:2"
    done = DoneTag(
        [{"digest": "sha256:d", "platform": "linux/amd64", "layers": ["sha256:l"]}],
        [_row({"image": old, "path": "etc/x", "image_digest": "sha256:d"})],
        [[f"{old} layer 1: etc/y", "binary"], ["member/../x", "climbs out"]],
    )
    moved = retarget(done, old, new)
    assert moved is not None
    assert moved.locations[0][8] == {"image": new, "path": "etc/x", "image_digest": "sha256:d"}
    assert moved.skips == [[f"{new} layer 1: etc/y", "binary"], ["member/../x", "climbs out"]]
    assert moved.images == done.images
    assert done.locations[0][8]["image"] == old  # the twin's own record is untouched


@pytest.mark.parametrize(
    "fields, skips",
    [
        ({"image": "reg:5000/a:1", "path": "copied from reg:5000/a:1"}, []),
        ({"image": "reg:5000/a:1", "path": "x"}, [["x", "see reg:5000/a:1"]]),
        ({"image": "reg:5000/a:1", "path": "x"}, [["in reg:5000/a:1 layer 1", "binary"]]),
    ],
)
def test_retarget_refuses_when_the_name_shows_elsewhere(fields: dict, skips: list) -> None:  # type: ignore[type-arg]
    assert retarget(DoneTag([], [_row(fields)], skips), "reg:5000/a:1", "reg:5000/b:2") is None
