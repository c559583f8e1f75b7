"""A layer whose content does not match the diff_id its image declares: it neither hides the
layer that really has that diff_id (in the image, in the run, in the content cache) nor gets
taken for it; layers honestly listed twice are still scanned once."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.sources.image.helpers import by_secret, run_cli, tar_bytes, token, write_oci_layout


def _diff_id(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _docker_archive(dest: Path, layers: list[bytes], diff_ids: list[str]) -> Path:
    """A classic ``docker save`` archive whose config declares ``diff_ids`` (as given)."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"step {i}"} for i in range(len(layers))],
        }
    ).encode()
    members = {"config.json": config}
    for i, raw in enumerate(layers):
        members[f"l{i}/layer.tar"] = raw
    members["manifest.json"] = json.dumps(
        [
            {
                "Config": "config.json",
                "RepoTags": ["app:v1"],
                "Layers": [f"l{i}/layer.tar" for i in range(len(layers))],
            }
        ]
    ).encode()
    with tarfile.open(dest, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


def _oci(root: Path, layers: list[bytes], diff_ids: list[str]) -> Path:
    """An OCI layout (gzip layers) whose config declares ``diff_ids`` (as given)."""
    write_oci_layout(root, [(raw, "gzip") for raw in layers])
    blobs = root / "blobs" / "sha256"
    index = json.loads((root / "index.json").read_text())
    mdigest = index["manifests"][0]["digest"]
    manifest = json.loads((blobs / mdigest[7:]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"][7:]).read_bytes())
    config["rootfs"]["diff_ids"] = diff_ids
    cfg = json.dumps(config).encode()
    manifest["config"].update(digest=_diff_id(cfg), size=len(cfg))
    (blobs / _diff_id(cfg)[7:]).write_bytes(cfg)
    mdata = json.dumps(manifest).encode()
    (blobs / _diff_id(mdata)[7:]).write_bytes(mdata)
    index["manifests"][0].update(digest=_diff_id(mdata), size=len(mdata))
    (root / "index.json").write_text(json.dumps(index))
    return root


def _scan(rules: Path, *refs: str) -> tuple[int, dict[str, Any]]:
    args = ["scan", "image", *refs, "--rules", str(rules), "-f", "json", "--show-secrets"]
    code, doc, err = run_cli(args)
    assert doc is not None, err
    return code, doc


def _image(kind: str, where: Path, layers: list[bytes], diff_ids: list[str]) -> str:
    if kind == "docker":
        return f"docker-archive:{_docker_archive(where.with_suffix('.tar'), layers, diff_ids)}"
    return f"oci:{_oci(where, layers, diff_ids)}:v1"


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_a_layer_declaring_an_earlier_layers_diff_id_hides_nothing(
    kind: str, image_rules: Path, tmp_path: Path
) -> None:
    hidden, own = token(), token()
    honest = tar_bytes([("app/key.txt", f"token = {hidden}\n".encode())])  # leakscan:allow
    liar = tar_bytes([("app/other.txt", f"token = {own}\n".encode())])  # leakscan:allow
    ref = _image(kind, tmp_path / "img", [honest, liar], [_diff_id(honest), _diff_id(honest)])
    code, doc = _scan(image_rules, ref)
    found = by_secret(doc)
    assert hidden in found, doc["skipped"]
    layer2 = [s for s in doc["skipped"] if "layer 2" in s["where"]]
    if kind == "oci":  # read, scanned as a layer of its own, and said so
        assert own in found
        assert any("does not match its diff_id" in s["reason"] for s in layer2), layer2
    else:  # the archive's blob is checked against the diff_id: that layer fails alone
        assert code == 2
        assert any("digest mismatch" in s["reason"] for s in layer2), layer2
    assert not any("repeated layer" in s["reason"] for s in doc["skipped"])


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_a_lying_layer_does_not_replace_the_honest_one_in_the_cache(
    kind: str, image_rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKSCAN_CONTENT_CACHE", str(tmp_path / "content.sqlite"))
    honest = tar_bytes([("app/key.txt", f"token = {token()}\n".encode())])  # leakscan:allow
    empty = tar_bytes([("app/", None)])
    bad = _image(kind, tmp_path / "bad", [empty], [_diff_id(honest)])
    good = _image(kind, tmp_path / "good", [honest], [_diff_id(honest)])
    _, both = _scan(image_rules, bad, good)  # one run: the lying layer is read first
    places = {(loc["image"], loc["path"]) for f in both["findings"] for loc in f["locations"]}
    assert places == {(good, "app/key.txt")}
    _scan(image_rules, bad)  # again in its own run: only the cache could carry its record over
    _, doc = _scan(image_rules, good)
    assert [loc["path"] for f in doc["findings"] for loc in f["locations"]] == ["app/key.txt"]
    assert doc["stats"]["layers_reused"] == 1  # the honest record, stored by the first run


@pytest.mark.parametrize("kind", ["docker", "oci"])
def test_honest_repeated_layers_scanned_once(kind: str, image_rules: Path, tmp_path: Path) -> None:
    secret = token()
    base = tar_bytes([("app/key.txt", f"token = {secret}\n".encode())])  # leakscan:allow
    top = tar_bytes([("app/readme", b"hello\n")])
    ref = _image(
        kind,
        tmp_path / "img",
        [base, top, base],
        [_diff_id(base), _diff_id(top)] * 1 + [_diff_id(base)],
    )
    code, doc = _scan(image_rules, ref)
    assert code == 1
    (finding,) = [f for s, f in by_secret(doc).items() if s == secret]
    assert [loc["layer_index"] for loc in finding["locations"]] == [2]
    assert doc["stats"]["layers_scanned"] == 2
    assert any("repeated layer" in s["reason"] for s in doc["skipped"])
    assert not any("diff_id" in s["reason"] for s in doc["skipped"])
