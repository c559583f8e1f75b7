"""leakscan audit against a real docker-registry: pagination, cache, resume, no secret stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import aws_key_id, github_token, write_rules
from tests.plugins.registry import (
    Registry,
    api_push,
    blob_path,
    build_oci,
    make_image,
    skopeo_push,
)

pytestmark = pytest.mark.registry
SHARED_TAGS = 50


@pytest.fixture(scope="module")
def world(registry_server: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("audit")
    token, aws, base_token = github_token(), aws_key_id(), github_token()
    base = {"etc/os-release": b"ID=test\n", "etc/base.conf": f"token: {base_token}\n".encode()}
    app_image = make_image(
        [base, {"app/.env": f"GITHUB_TOKEN={token}\n".encode()}, {"app/.env": None}],
        env=[f"AWS_ACCESS_KEY_ID={aws}", "PATH=/usr/bin"],
    )
    skopeo_push(build_oci(tmp / "app-oci", app_image, "v1"), "v1", registry_server, "app")
    for r in range(5):  # more repositories and tags than one page (n=2) holds
        small = make_image([{f"r{r}.txt": b"nothing\n"}])
        for t in range(5 if r == 0 else 1):
            api_push(registry_server, f"pag/r{r}", f"t{t}", small)
    for t in range(SHARED_TAGS):
        api_push(
            registry_server,
            "shared/svc",
            f"v{t:02d}",
            make_image([base, {"srv/version": f"{t}\n".encode()}]),
        )
    return {
        "token": token,
        "aws": aws,
        "base_token": base_token,
        "rules": write_rules(tmp / "r"),
        "tmp": tmp,
        "app": app_image,
    }


def audit(
    reg: Registry,
    world: dict,
    state: Path,
    *args: str,
    input: str | None = None,
    env: dict | None = None,
) -> tuple[int, dict, str]:
    out = state.parent / f"{state.name}-{len(list(state.parent.iterdir()))}.json"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            reg.host,
            "--insecure",
            "--state",
            str(state),
            "--rules",
            str(world["rules"]),
            "--no-progress",
            "--format",
            "json",
            "-o",
            str(out),
            *args,
        ],
        input=input,
        env={"LEAKSCAN_CONTENT_CACHE": str(state.parent / "content.sqlite"), **(env or {})},
    )
    doc = json.loads(out.read_text()) if out.exists() else {}
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, doc, result.output


def _locations(doc: dict, secret_redacted_prefix: str, rule: str) -> list[dict]:
    return [loc for f in doc["findings"] if f["rule_id"] == rule for loc in f["locations"]]


def test_audit_whole_registry_paginated_then_all_from_cache(registry_server, world, tmp_path):
    state = tmp_path / "state.sqlite"
    code, doc, output = audit(registry_server, world, state, "--page-size", "2")
    assert code == 1, output
    repos = doc["audit"]["repositories"]
    assert set(repos) >= {"app", "shared/svc"} | {f"pag/r{r}" for r in range(5)}
    assert repos["pag/r0"]["images"] == 5
    assert repos["shared/svc"]["images"] == SHARED_TAGS
    stats = doc["stats"]
    # each unique layer scanned once: 50 tops + the base (shared by 51 images) + app's two
    # + 5 small pag layers (r0's five tags share one image)
    assert stats["layers_scanned"] == SHARED_TAGS + 1 + 2 + 5
    assert stats["layers_reused"] == (SHARED_TAGS + 1 - 1) + 4
    assert stats["layers_downloaded"] == stats["layers_scanned"]
    # the token introduced in layer 1 of app:v1 and deleted in layer 2
    app_locs = [
        loc
        for f in doc["findings"]
        for loc in f["locations"]
        if loc["image"].endswith("/app:v1") and loc["kind"] == "image-layer"
    ]
    env_loc = [loc for loc in app_locs if loc["path"] == "app/.env"]
    assert env_loc and env_loc[0]["layer_index"] == 1 and env_loc[0]["state"] == "deleted"
    assert env_loc[0]["deleted_in_layer"] == 2
    assert env_loc[0]["layer_digest"] == world["app"].layer_digests[1]
    assert any(f["rule_id"] == "test.aws.key-id" for f in doc["findings"])
    # the base token: one finding, located in all 51 images
    base_fp = [
        f
        for f in doc["findings"]
        if any(loc.get("path") == "etc/base.conf" for loc in f["locations"])
    ]
    assert len(base_fp) == 1
    assert {loc["image"].split("/", 1)[1].split(":")[0] for loc in base_fp[0]["locations"]} == {
        "app",
        "shared/svc",
    }
    assert len(base_fp[0]["locations"]) == SHARED_TAGS + 1
    assert "secret" not in json.dumps(doc["findings"][0])

    # second audit: everything from the state and the cache, same findings
    code2, doc2, _ = audit(registry_server, world, state)
    assert code2 == 1
    assert doc2["stats"]["layers_downloaded"] == 0
    assert doc2["stats"]["layers_scanned"] == 0
    assert doc2["stats"]["images_from_state"] == doc2["stats"]["images"]
    assert {f["fingerprint"] for f in doc2["findings"]} == {
        f["fingerprint"] for f in doc["findings"]
    }
    assert len(doc2["findings"]) == len(doc["findings"])  # merged alike from the cache
    # --rescan resolves every image again but downloads no layer (the content cache)
    code3, doc3, _ = audit(registry_server, world, state, "--rescan", "--repo", "shared/*")
    assert code3 == 1
    assert doc3["stats"]["images_scanned"] == SHARED_TAGS
    assert doc3["stats"]["layers_downloaded"] == 0 and doc3["stats"]["layers_scanned"] == 0

    # the state file never holds a secret in clear
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("state.sqlite*"))
    for secret in (world["token"], world["aws"], world["base_token"]):
        assert secret.encode() not in blob
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("content.sqlite*"))
    for secret in (world["token"], world["aws"], world["base_token"]):
        assert secret.encode() not in blob
    rows = sqlite3.connect(tmp_path / "content.sqlite").execute(
        "SELECT matches FROM cc_contents WHERE matches != '[]'"
    )
    assert rows.fetchall()


def test_interrupted_audit_resumes(registry_server, world, tmp_path):
    state = tmp_path / "state.sqlite"
    code, doc, output = audit(
        registry_server, world, state, "--repo", "shared/*", env={"LEAKSCAN_AUDIT_STOP_AFTER": "3"}
    )
    assert code == 2
    assert doc["audit"]["interrupted"] is True and "resume" in output
    assert doc["stats"]["images_scanned"] == 3
    assert doc["findings"], "findings made before the stop are written"
    code, doc, _ = audit(registry_server, world, state, "--repo", "shared/*")
    assert code == 1
    assert doc["stats"]["images_from_state"] == 3
    assert doc["stats"]["images_scanned"] == SHARED_TAGS - 3
    base = [
        f
        for f in doc["findings"]
        if any(loc.get("path") == "etc/base.conf" for loc in f["locations"])
    ]
    assert len(base[0]["locations"]) == SHARED_TAGS


def test_corrupt_blob_fails_that_image_and_audit_goes_on(registry_server, world, tmp_path):
    token = github_token()
    bad = make_image([{"x/secret.txt": f"GITHUB_TOKEN={token}\n".encode()}])
    api_push(registry_server, "faulty/corrupt", "1", bad)
    good = make_image([{"y/key.txt": f"GITHUB_TOKEN={github_token()}\n".encode()}])
    api_push(registry_server, "faulty/good", "1", good)
    data = blob_path(registry_server, bad.layer_digests[0])
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    code, doc, output = audit(registry_server, world, tmp_path / "s.sqlite", "--repo", "faulty/*")
    # findings exit 1 even though an image failed; the failure is listed with its reason
    assert code == 1
    assert "digest mismatch" in output and "faulty/corrupt" in output
    good = f"{registry_server.host}/faulty/good:1"
    assert any(loc.get("image") == good for f in doc["findings"] for loc in f["locations"])
    assert doc["stats"]["images_failed"] == 1
    [failed] = doc["audit"]["failed"]
    assert failed["image"].endswith("faulty/corrupt:1") and "digest mismatch" in failed["reason"]
    assert "\n" not in failed["reason"]
    # a rerun retries only the failed image
    code, doc, output = audit(registry_server, world, tmp_path / "s.sqlite", "--repo", "faulty/*")
    assert code == 1 and doc["stats"]["images_from_state"] == 1
    assert doc["stats"]["images_failed"] == 1 and doc["stats"]["images_scanned"] == 0


def test_missing_tag_and_down_registry(registry_server, world, tmp_path):
    from leakscan.sources.image.interface import ImageError
    from leakscan.sources.image.registry import RegistryStore
    from leakscan.sources.interface import SourceOptions

    store = RegistryStore(
        f"docker://{registry_server.host}/app:nope", SourceOptions(), insecure=True
    )
    with pytest.raises(ImageError, match="404"):
        list(store.images())
    from tests.plugins.registry import free_port

    down = Registry(f"127.0.0.1:{free_port()}", tmp_path, None)  # type: ignore[arg-type]
    code, _, output = audit(down, world, tmp_path / "s.sqlite")
    assert code == 2 and "unreachable" in output


def test_html_report(registry_server, world, tmp_path):
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            registry_server.host,
            "--insecure",
            "--state",
            str(tmp_path / "s.sqlite"),
            "--rules",
            str(world["rules"]),
            "--repo",
            "app",
            "--format",
            "html",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "app" in html
    assert world["token"] not in html and "<script src" not in html


def test_scan_image_from_registry(registry_server, world):
    for ref in (f"{registry_server.host}/app:v1", f"docker://{registry_server.host}/app:v1"):
        result = CliRunner().invoke(
            app,
            [
                "scan",
                "image",
                ref,
                "--rules",
                str(world["rules"]),
                "--format",
                "json",
                "--no-progress",
            ],
        )
        assert result.exit_code == 1, result.output
        doc = json.loads(result.stdout)
        paths = {loc.get("path") for f in doc["findings"] for loc in f["locations"]}
        assert "app/.env" in paths
