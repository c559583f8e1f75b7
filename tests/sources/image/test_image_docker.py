"""End to end with a real dockerd: docker build → docker save → skopeo → leakscan scan image."""

from __future__ import annotations

import subprocess

import pytest

from leakscan.sources.image.daemon import DaemonStore
from tests.sources.image.conftest import BuiltImage
from tests.sources.image.helpers import by_secret, run_cli

FLAGS = ["-f", "json", "--show-secrets", "--no-progress"]


def scan(rules, *refs: str, cmd: str = "image", stdin: str | None = None):
    code, doc, err = run_cli(["scan", cmd, *refs, "--rules", str(rules), *FLAGS], stdin=stdin)
    assert doc is not None, err
    return code, doc, err


@pytest.fixture(scope="module")
def archive_report(built_image: BuiltImage, image_rules):
    return scan(image_rules, f"docker-archive:{built_image.archive}")


def _layer_location(finding):
    [loc] = [loc for loc in finding["locations"] if loc["kind"] == "image-layer"]
    return loc


def test_every_layer_secret_found_with_layer_state_and_instruction(archive_report, built_image):
    code, doc, _ = archive_report
    assert code == 1
    found = by_secret(doc)
    s, layers = built_image.secrets, built_image.layers
    present = _layer_location(found[s["present"]])
    assert (present["path"], present["layer_index"], present["state"]) == ("app/.env", 1, "present")
    assert "COPY" in present["created_by"] and "/app/.env" in present["created_by"]
    assert present["layer_digest"].startswith("sha256:")
    deleted = _layer_location(found[s["deleted"]])
    assert (deleted["path"], deleted["layer_index"]) == ("app/secret.txt", layers["deleted"])
    assert deleted["state"] == "deleted" and deleted["deleted_in_layer"] == layers["rm"]
    over = _layer_location(found[s["overwritten"]])
    assert over["state"] == "overwritten" and over["overwritten_in_layer"] == layers["config2"]
    assert over["layer_index"] == layers["overwritten"] and over["line"] == 2
    node = _layer_location(found[s["node"]])
    assert node["path"] == "app/node_modules/y/index.js" and not node.get("vendor")
    site = _layer_location(found[s["site"]])
    # nothing skipped by path; vouched for by the package's RECORD: kept, marked, ranked low
    assert site["path"] == "usr/lib/python3/site-packages/x/creds.py"
    assert site["vendor"] is True and found[s["site"]]["confidence"] == "low"


def test_config_fields_and_build_args(archive_report, built_image):
    _, doc, _ = archive_report
    found = by_secret(doc)
    s = built_image.secrets
    fields = lambda secret: {loc["field"] for loc in found[secret]["locations"]}  # noqa: E731
    assert "Env[DB_PASSWORD]" in fields(s["env"])
    assert "Labels[api.key]" in fields(s["label"])
    build_arg = fields(s["buildarg"])
    assert any(f.startswith("History[") and f.endswith("].created_by") for f in build_arg)
    assert all(loc["kind"] == "image-config" for loc in found[s["buildarg"]]["locations"])


def test_three_formats_in_one_run_share_layers(built_image, image_rules):
    refs = [
        f"docker-archive:{built_image.archive}",
        f"oci:{built_image.oci_dir}:v1",
        f"oci-archive:{built_image.oci_archive}",
    ]
    code, doc, _ = scan(image_rules, *refs)
    assert code == 1
    layers = doc["stats"]["layers_scanned"]
    assert layers == 9 and doc["stats"]["layers_reused"] == 2 * layers
    deleted = by_secret(doc)[built_image.secrets["deleted"]]
    images = {loc["image"] for loc in deleted["locations"]}
    assert images == set(refs)  # one finding, every image it ships in
    assert {loc["state"] for loc in deleted["locations"]} == {"deleted"}
    oci = next(loc for loc in deleted["locations"] if loc["image"].startswith("oci:"))
    assert oci["image_digest"].startswith("sha256:") and oci["platform"] == "linux/amd64"


def test_docker_daemon_two_tags(built_image, image_rules):
    code, doc, _ = scan(
        image_rules, "docker-daemon:leakscan-test-app:1", "docker-daemon:leakscan-test-app:2"
    )
    assert code == 1
    assert doc["stats"]["layers_scanned"] == 9 and doc["stats"]["layers_reused"] == 9
    over = by_secret(doc)[built_image.secrets["overwritten"]]
    assert {(loc["image"], loc["state"]) for loc in over["locations"]} == {
        ("docker-daemon:leakscan-test-app:1", "overwritten"),
        ("docker-daemon:leakscan-test-app:2", "overwritten"),
    }


def test_platform_filter(built_image, image_rules):
    code, doc, _ = scan(image_rules, f"oci:{built_image.oci_dir}", "--platform", "linux/amd64")
    assert code == 1 and by_secret(doc)
    code, doc, err = scan(image_rules, f"oci:{built_image.oci_dir}", "--platform", "linux/arm64")
    assert code == 2 and "no image for platform linux/arm64" in err


def test_container_by_sdk_and_by_inspect_json(built_image, image_rules):
    secret = built_image.secrets["container"]
    code, doc, _ = scan(image_rules, "leakscan-test-c1", cmd="container")
    assert code == 1
    loc = by_secret(doc)[secret]["locations"][0]
    assert loc == {
        **loc,
        "kind": "container-env",
        "container": "leakscan-test-c1",
        "name": "API_TOKEN",
    }
    inspect = subprocess.run(
        ["docker", "inspect", "leakscan-test-c1"], capture_output=True, check=True, text=True
    ).stdout
    code, doc2, _ = scan(image_rules, "-", cmd="container", stdin=inspect)
    assert code == 1
    assert by_secret(doc2)[secret]["locations"] == by_secret(doc)[secret]["locations"]


def test_daemon_errors_are_one_line(built_image, image_rules, monkeypatch):
    code, doc, err = scan(
        image_rules,
        f"docker-archive:{built_image.archive}",
        "docker-daemon:leakscan-no-such-image:1",
    )
    assert code == 2 and by_secret(doc)  # findings made before the error are written
    assert "no such image in the docker daemon" in err and "Traceback" not in err
    code, _, err = scan(image_rules, "no-such-container-x", cmd="container")
    assert code == 2 and "no such container" in err


@pytest.fixture
def saves(monkeypatch):
    """The references of the daemon's ``docker save`` calls, in order."""
    made: list[str] = []
    original = DaemonStore._save

    def counted(self: DaemonStore):  # type: ignore[no-untyped-def]
        made.append(self.reference)
        return original(self)

    monkeypatch.setattr(DaemonStore, "_save", counted)
    return made


def test_daemon_image_read_in_one_pass(built_image, image_rules, saves):
    code, doc, _ = scan(image_rules, "docker-daemon:leakscan-test-app:1")
    assert code == 1
    found = by_secret(doc)
    states = {
        s: _layer_location(found[built_image.secrets[s]])["state"]
        for s in ("deleted", "overwritten", "present")
    }
    assert states == {"deleted": "deleted", "overwritten": "overwritten", "present": "present"}
    # one save: its configuration is read after the layers, and a classic save's layer ids
    # (dockerd 20.10) are worked out from the diff ids before its manifest, at its end
    assert saves == ["docker-daemon:leakscan-test-app:1"]
    # a second tag of the same image: every layer and the configuration are known already
    saves.clear()
    code, both, _ = scan(
        image_rules, "docker-daemon:leakscan-test-app:1", "docker-daemon:leakscan-test-app:2"
    )
    assert code == 1 and by_secret(both).keys() == found.keys()
    assert set(saves) == {"docker-daemon:leakscan-test-app:1"}


@pytest.mark.parametrize("ids_known", [True, False])
def test_daemon_image_finds_what_its_save_archive_finds(
    built_image, image_rules, archive_report, monkeypatch, saves, ids_known
):
    """Read from one save (the layers placed as they come, the configuration after them), or
    from two when the classic layer ids cannot be worked out (another daemon version): the
    findings and their places are those of the same image's ``docker save`` archive."""
    from leakscan.sources.image import daemon

    if not ids_known:
        monkeypatch.setattr(
            daemon, "classic_ids", lambda diff_ids: ["0" * 64] * (len(diff_ids) - 1)
        )
    code, doc, _ = scan(image_rules, "docker-daemon:leakscan-test-app:1")
    assert code == 1 and len(saves) == (1 if ids_known else 2)

    def places(report):  # type: ignore[no-untyped-def]
        out = {}
        for secret, finding in by_secret(report).items():
            out[secret] = sorted(
                (
                    loc["kind"],
                    loc.get("layer_index"),
                    loc.get("path"),
                    loc.get("state"),
                    loc.get("created_by"),
                    loc.get("field"),
                    loc.get("line"),
                )
                for loc in finding["locations"]
            )
        return out

    found = places(doc)
    assert found == places(archive_report[1])
    layer_places = [p for ps in found.values() for p in ps if p[0] == "image-layer"]
    assert layer_places and all(p[1] is not None and p[4] for p in layer_places)
