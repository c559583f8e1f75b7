"""Tags of one image are scanned once; a tag that moves between audits is scanned again."""

from __future__ import annotations

import dataclasses
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from leakscan.audit.twins import retarget
from leakscan.sources.registry.client import MANIFEST_TYPES
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
@pytest.mark.parametrize("moved", [True, False], ids=["findings-moved", "twins-scanned"])
def test_tags_of_one_image_and_tags_moved_between_audits(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moved: bool
) -> None:
    """Twins take their findings, or (when they cannot be moved) are scanned: the same report."""
    if not moved:
        monkeypatch.setattr("leakscan.audit.runner.retarget", lambda *args: None)
    reg = world.reg
    ns = "tw" if moved else "tx"
    s1, s2, s3 = github_token(), github_token(), github_token()
    one, two = _image(world, "app/one.env", s1), _image(world, "app/two.env", s2)
    api_push(reg, f"{ns}/a", "x", one)
    api_push(reg, f"{ns}/a", "y", one)  # the same image as tw/a:x
    api_push(reg, f"{ns}/b", "z", two)
    refs = [f"{reg.host}/{ns}/a:x", f"{reg.host}/{ns}/a:y", f"{reg.host}/{ns}/b:z"]

    code, first, output = audit(world, tmp_path, "--repo", f"{ns}/*")
    assert code == 1, output
    assert first["stats"]["images_scanned"] == 3
    assert [_status(first, r) for r in refs] == ["scanned"] * 3
    _same_as_scan_image(world, tmp_path, first, refs)
    assert placed(first, refs[1])  # the tag that took its twin's findings has them

    # between audits: x moves to a new image, y to z's image, and w is added on x's old one
    api_push(reg, f"{ns}/a", "x", _image(world, "app/three.env", s3))
    api_push(reg, f"{ns}/a", "y", two)
    api_push(reg, f"{ns}/b", "w", one)
    refs.append(f"{reg.host}/{ns}/b:w")
    code, second, output = audit(world, tmp_path, "--repo", f"{ns}/*")
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
    code, third, _ = audit(world, tmp_path, "--repo", f"{ns}/*")
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


class _Listing(BaseHTTPRequestHandler):
    """In front of the registry: tag lists carry each tag's digest, as Google's registries
    list them; the manifest requests asked are noted."""

    protocol_version = "HTTP/1.1"
    upstream: ClassVar[str] = ""
    asked: ClassVar[list[tuple[str, str]]] = []

    def _upstream(
        self, method: str, path: str, accept: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range")}
            if accept:
                headers["Accept"] = accept
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def _forward(self, method: str) -> None:
        if "/manifests/" in self.path:
            type(self).asked.append((method, self.path))
        status, headers, body = self._upstream(method, self.path)
        if status == 200 and self.path.split("?")[0].endswith("/tags/list"):
            doc = json.loads(body)
            repo = self.path.split("/tags/list")[0]
            listed: dict[str, dict[str, list[str]]] = {}
            for tag in doc.get("tags") or []:
                _, head, _ = self._upstream(
                    "HEAD", f"{repo}/manifests/{tag}", ", ".join(MANIFEST_TYPES)
                )
                digest = head.get("Docker-Content-Digest", "")
                listed.setdefault(digest, {"tag": []})["tag"].append(tag)
            body = json.dumps({**doc, "manifest": listed}).encode()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() in ("content-type", "docker-content-digest", "location"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)) if method == "GET" else
                         headers.get("Content-Length", "0"))  # fmt: skip
        self.end_headers()
        if method == "GET":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._forward("GET")

    def do_HEAD(self) -> None:
        self._forward("HEAD")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def listing(world: World) -> Iterator[World]:
    _Listing.upstream, _Listing.asked = world.reg.host, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    reg = dataclasses.replace(world.reg, host=f"127.0.0.1:{server.server_port}")
    try:
        yield dataclasses.replace(world, reg=reg)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.registry
def test_digests_in_the_tag_list_spare_the_heads_and_a_moved_tag_is_scanned(
    world: World, listing: World, tmp_path: Path
) -> None:
    s1, s2, s3 = github_token(), github_token(), github_token()
    one = _image(listing, "gm/one.env", s1)
    api_push(world.reg, "gm/a", "x", one)  # pushed to the registry itself
    api_push(world.reg, "gm/a", "y", one)
    api_push(world.reg, "gm/b", "z", _image(listing, "gm/two.env", s2))
    code, first, output = audit(listing, tmp_path, "--repo", "gm/*")
    assert code == 1, output
    assert first["stats"]["images_scanned"] == 3
    assert not [a for a in _Listing.asked if a[0] == "HEAD"]

    _Listing.asked.clear()
    code, second, _ = audit(listing, tmp_path, "--repo", "gm/*")
    assert code == 1 and placed(second) == placed(first)
    assert second["stats"]["images_from_state"] == 3
    assert _Listing.asked == []  # the tag lists told every digest: no manifest asked

    api_push(world.reg, "gm/a", "x", _image(listing, "gm/three.env", s3))
    _Listing.asked.clear()
    code, third, _ = audit(listing, tmp_path, "--repo", "gm/*")
    assert code == 1
    assert [a[1].rsplit("/", 1)[-1] for a in _Listing.asked if a[0] == "GET"] == ["x"]
    assert not [a for a in _Listing.asked if a[0] == "HEAD"]
    x = f"{listing.reg.host}/gm/a:x"
    assert _status(third, x) == "scanned"
    _same_as_scan_image(listing, tmp_path, third, [x, f"{listing.reg.host}/gm/a:y"])
    assert {f["redacted"] for f in third["findings"] for loc in f["locations"]
            if loc["image"] == x} >= {f"{s3[:4]}…{s3[-4:]}"}  # fmt: skip
    assert not any(
        loc["image"] == x for f in third["findings"] if f["redacted"] == f"{s1[:4]}…{s1[-4:]}"
        for loc in f["locations"]
    )  # fmt: skip
