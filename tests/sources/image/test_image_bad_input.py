"""Hostile and broken images (synthesized, no docker needed): clear errors or reported skips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from leakscan.sources.image import layer as layer_module
from tests.sources.image.helpers import (
    by_secret,
    compress,
    run_cli,
    tar_bytes,
    tar_dir,
    token,
    write_oci_layout,
    write_rules,
)

FLAGS = ["-f", "json", "--show-secrets", "--no-progress"]


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return write_rules(tmp_path_factory.mktemp("rules"))


def scan(rules, *refs, extra=()):
    code, doc, err = run_cli(["scan", "image", *refs, "--rules", str(rules), *FLAGS, *extra])
    assert "Traceback" not in err
    return code, doc, err


def good_layout(root: Path, secret: str):
    return write_oci_layout(
        root, [(tar_bytes([("app/", None), ("app/key.txt", f"k={secret}\n".encode())]), "gzip")]
    )


def test_compressions_opaque_dirs_and_climbing_names(tmp_path, rules):
    s = {k: token() for k in ("gz", "zst", "plain", "hidden", "climb")}
    layers = [
        (
            tar_bytes(
                [
                    ("etc/", None),
                    ("etc/app/", None),
                    ("etc/app/a.conf", f"t={s['gz']}".encode()),
                    ("etc/app/old.conf", f"t={s['hidden']}".encode()),
                ]
            ),
            "gzip",
        ),
        (
            tar_bytes(
                [
                    ("srv/z.txt", f"t={s['zst']}".encode()),
                    ("../../escape.txt", f"t={s['climb']}".encode()),
                ]
            ),
            "zstd",
        ),
        (
            tar_bytes(
                [
                    ("etc/app/", None),
                    ("etc/app/.wh..wh..opq", b""),
                    ("etc/app/a.conf", f"t={s['plain']}".encode()),
                ]
            ),
            "none",
        ),
    ]
    write_oci_layout(tmp_path / "oci", layers)
    code, doc, _ = scan(rules, f"oci:{tmp_path / 'oci'}:v1")
    assert code == 1
    found = by_secret(doc)
    loc = lambda k: found[s[k]]["locations"][0]  # noqa: E731
    assert (loc("gz")["state"], loc("gz")["overwritten_in_layer"]) == ("overwritten", 2)
    assert (loc("hidden")["state"], loc("hidden")["deleted_in_layer"]) == ("deleted", 2)
    assert loc("zst")["state"] == "present" and loc("zst")["layer_index"] == 1
    assert loc("plain")["state"] == "present" and loc("plain")["layer_index"] == 2
    assert s["climb"] not in found
    assert any("climbs out" in sk["reason"] for sk in doc["skipped"])


def test_newer_docker_save_oci_layout(tmp_path, rules):
    secret = token()
    digests = good_layout(tmp_path / "layout", secret)
    manifest = [
        {
            "Config": "blobs/sha256/" + digests["config"][7:],
            "RepoTags": ["app:1"],
            "Layers": ["blobs/sha256/" + d[7:] for d in digests["layers"]],
        }
    ]
    archive = tar_dir(
        tmp_path / "layout", tmp_path / "save.tar", {"manifest.json": json.dumps(manifest).encode()}
    )
    code, doc, _ = scan(rules, str(archive))  # a bare .tar is a docker-archive
    assert code == 1
    loc = by_secret(doc)[secret]["locations"][0]
    assert loc["image_digest"] == digests["manifest"] and loc["path"] == "app/key.txt"


def test_missing_blob_keeps_earlier_findings(tmp_path, rules):
    secret = token()
    good_layout(tmp_path / "good", secret)
    digests = good_layout(tmp_path / "bad", token())
    os.remove(tmp_path / "bad" / "blobs" / "sha256" / digests["layers"][0][7:])
    code, doc, err = scan(rules, f"oci:{tmp_path / 'good'}", f"oci:{tmp_path / 'bad'}")
    errors = [line for line in err.splitlines() if line.startswith("leakscan: error")]
    assert code == 2 and "is missing" in err and len(errors) == 1
    assert "incomplete scan, found before the error: 1 secret(s)" in err
    assert secret in by_secret(doc)


def test_digest_mismatch(tmp_path, rules):
    digests = good_layout(tmp_path / "oci", token())
    blob = tmp_path / "oci" / "blobs" / "sha256" / digests["layers"][0][7:]
    raw = tar_bytes([("app/key.txt", b"tampered\n")])
    blob.write_bytes(compress(raw, "gzip"))
    code, _, err = scan(rules, f"oci:{tmp_path / 'oci'}")
    assert code == 2 and "digest mismatch" in err


def test_unknown_media_types(tmp_path, rules):
    write_oci_layout(
        tmp_path / "m",
        [(tar_bytes([("a", b"x")]), "none")],
        manifest_media="application/vnd.example.thing+json",
    )
    code, _, err = scan(rules, f"oci:{tmp_path / 'm'}")
    assert code == 2 and "unknown manifest media type" in err
    secret = token()
    write_oci_layout(
        tmp_path / "l",
        [(tar_bytes([("a", f"{secret}".encode())]), "none")],
        layer_media=["application/vnd.example.blob"],
    )
    code, doc, _ = scan(rules, f"oci:{tmp_path / 'l'}")
    assert code == 0 and any("unknown layer media type" in s["reason"] for s in doc["skipped"])


def test_truncated_and_corrupt_archives(tmp_path, rules):
    good_layout(tmp_path / "oci", token())
    archive = tar_dir(tmp_path / "oci", tmp_path / "a.tar")
    data = archive.read_bytes()
    (tmp_path / "t.tar").write_bytes(data[: len(data) // 2])
    code, _, err = scan(rules, f"oci-archive:{tmp_path / 't.tar'}")
    assert code == 2 and err.startswith("leakscan: error:")
    (tmp_path / "junk.tar").write_bytes(b"\x00junk" * 100)
    code, _, err = scan(rules, f"docker-archive:{tmp_path / 'junk.tar'}")
    assert code == 2 and err.startswith("leakscan: error:")
    code, _, err = scan(rules, f"oci:{tmp_path / 'nope'}")
    assert code == 2 and "no such directory" in err


def test_truncated_layer_stream(tmp_path, rules):
    digests = good_layout(tmp_path / "oci", token())
    blob = tmp_path / "oci" / "blobs" / "sha256" / digests["layers"][0][7:]
    blob.write_bytes(blob.read_bytes()[:30])
    code, _, err = scan(rules, f"oci:{tmp_path / 'oci'}")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_decompression_bomb_is_cut_off(tmp_path, rules, monkeypatch):
    monkeypatch.setattr(layer_module, "RATIO_FLOOR", 1024 * 1024)
    secret = token()
    bomb = tar_bytes([("zeros", b"\0" * (8 * 1024 * 1024))])
    write_oci_layout(
        tmp_path / "oci",
        [
            (tar_bytes([("ok.txt", f"t={secret}".encode())]), "gzip"),
            (bomb, "gzip"),
        ],
    )
    code, doc, _ = scan(rules, f"oci:{tmp_path / 'oci'}")
    assert code == 1 and secret in by_secret(doc)
    assert any("decompression bomb" in s["reason"] for s in doc["skipped"])


def test_unreachable_daemon(rules, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/leakscan-no-such.sock")
    code, _, err = scan(rules, "docker-daemon:app:1")
    assert code == 2 and "cannot reach the docker daemon" in err
    assert len(err.strip().splitlines()) == 1


def test_registry_reference_without_registry_support(rules, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "leakscan.sources.image.registry", None)
    code, _, err = scan(rules, "docker://localhost:1/app:1")
    assert code == 2 and "registry support not available" in err


def test_json_that_is_not_docker_inspect_is_exit_2() -> None:
    from typer.testing import CliRunner

    from leakscan.cli import app

    result = CliRunner().invoke(app, ["scan", "container", "-"], input='{"name": "x"}')
    assert result.exit_code == 2
    assert "not docker inspect JSON" in result.output and "Traceback" not in result.output


def test_inspect_fields_of_the_wrong_type_are_skipped_and_the_rest_still_scanned() -> None:
    from typer.testing import CliRunner

    from leakscan.cli import app

    secret = "AKIA" + "QWERTYUIOPASDFGH"  # leakscan:allow
    doc = [
        {"Name": "/a", "Config": {"Env": 5, "Cmd": ["run", secret], "Labels": [1]}},
        {"Name": "/b", "Config": ["not", "an", "object"]},
    ]
    result = CliRunner().invoke(app, ["scan", "container", "-", *FLAGS], input=json.dumps(doc))
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    assert [f["secret"] for f in out["findings"]] == [secret]
    reasons = {(s["where"], s["reason"]) for s in out["skipped"]}
    assert ("container a", "Config.Env is not a JSON list") in reasons
    assert ("container a", "Config.Labels is not a JSON object") in reasons
    assert ("container b", "Config is not a JSON object") in reasons
