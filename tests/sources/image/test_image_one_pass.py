"""One pass over an image: each layer read once, and what depends on later layers (whiteout
states, package databases vouching for a file) still placed right on every finding, from the
first scan and from the content cache alike."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

import leakscan.sources.image.source as image_source
from tests.sources.image.helpers import by_secret, run_cli, tar_bytes, token, write_oci_layout

FLAGS = ["-f", "json", "--show-secrets", "--no-progress"]


def _record_line(path: str, content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(content)}\n"


def _image(tmp: Path) -> tuple[str, dict[str, str]]:
    """Three layers: a dpkg file whose md5sums come after it in the same layer; a Python file
    vouched for only by a RECORD two layers up; an edited copy of the dpkg file, deleted."""
    s = {name: token() for name in ("dpkg", "site", "edited", "app")}
    tool = f"api_token = {s['dpkg']}\n".encode()  # leakscan:allow
    creds = f"TOKEN = '{s['site']}'\n".encode()  # leakscan:allow
    edited = f"api_token = {s['edited']}\n".encode()  # leakscan:allow
    md5 = hashlib.md5(tool).hexdigest()
    base = [
        ("usr/share/tool/tool.conf", tool),
        ("var/lib/dpkg/info/tool.md5sums", f"{md5}  usr/share/tool/tool.conf\n".encode()),
    ]
    site = "usr/lib/python3/site-packages"
    middle = [
        (f"{site}/x/creds.py", creds),
        ("usr/share/tool/tool.conf", edited),  # edited after install: not vouched for
        ("app/key.txt", f"key = {s['app']}\n".encode()),  # leakscan:allow
    ]
    record = _record_line("x/creds.py", creds)
    top = [
        (f"{site}/x-1.0.dist-info/RECORD", record.encode()),
        ("usr/share/tool/.wh.tool.conf", b""),
    ]
    write_oci_layout(tmp / "oci", [(tar_bytes(layer), "gzip") for layer in (base, middle, top)])
    return f"oci:{tmp / 'oci'}:v1", s


def _scan(ref: str, rules: Path) -> dict[str, Any]:
    code, doc, err = run_cli(["scan", "image", ref, "--rules", str(rules), *FLAGS])
    assert code == 1 and doc is not None, err
    return doc


KEYS = ("layer_index", "path", "state", "deleted_in_layer", "overwritten_in_layer", "vendor")


def _places(doc: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Locations by fingerprint (a scan from the cache has no secrets in clear)."""
    return {
        f["fingerprint"]: [tuple(loc.get(k) for k in KEYS) for loc in f["locations"]]
        for f in doc["findings"]
    }


def test_late_layers_decide_states_and_vendor_marks(
    image_rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, s = _image(tmp_path)
    reads: list[str] = []
    real = image_source.iter_layer

    def counted(raw: Any, where: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(where)
        return real(raw, where, *args, **kwargs)

    monkeypatch.setattr(image_source, "iter_layer", counted)
    doc = _scan(ref, image_rules)
    assert sorted(reads) == [f"{ref} layer {n}" for n in (1, 2, 3)]  # each layer once
    site = "usr/lib/python3/site-packages/x/creds.py"
    expected = {
        s["dpkg"]: [(0, "usr/share/tool/tool.conf", "overwritten", None, 1, True)],
        s["site"]: [(1, site, "present", None, None, True)],
        s["edited"]: [(1, "usr/share/tool/tool.conf", "deleted", 2, None, None)],
        s["app"]: [(1, "app/key.txt", "present", None, None, None)],
    }
    found = by_secret(doc)
    assert {
        s: [tuple(loc.get(k) for k in KEYS) for loc in found[s]["locations"]] for s in expected
    } == expected
    confidence = {secret: f["confidence"] for secret, f in by_secret(doc).items()}
    assert confidence[s["dpkg"]] == confidence[s["site"]] == "low"  # vouched for: ranked low
    assert confidence[s["edited"]] == confidence[s["app"]] == "high"

    # the content cache: filled by a first run, then every layer placed from it alone
    monkeypatch.setenv("LEAKSCAN_CONTENT_CACHE", str(tmp_path / "content.sqlite"))
    _scan(ref, image_rules)
    reads.clear()
    again = _scan(ref, image_rules)
    assert reads == [] and again["stats"]["layers_reused"] == 3
    assert _places(again) == _places(doc)
    assert [f["confidence"] for f in again["findings"]] == [
        f["confidence"] for f in doc["findings"]
    ]
