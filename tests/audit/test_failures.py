"""A registry that fails for some images: each is recorded with a one-line reason, the audit
goes on, findings still exit 1, and a rerun retries only the failed images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from leakscan.cli import app
from tests.hardening.fakeregistry import FakeRegistry, layer_tar
from tests.helpers import github_token, write_rules


def _audit(reg: FakeRegistry, tmp: Path, rules: Path) -> tuple[int, dict[str, Any], str]:
    out = tmp / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "audit", reg.host, "--insecure", "--state", str(tmp / "state.sqlite"),
            "--rules", str(rules), "--no-progress", "-f", "json", "-o", str(out),
        ],
        env={"LEAKSCAN_CONTENT_CACHE": str(tmp / "content.sqlite")},
    )  # fmt: skip
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, json.loads(out.read_text()), result.output


def test_failed_images_listed_audit_goes_on_rerun_retries_them(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    token = github_token()
    with FakeRegistry() as reg:
        reg.image("team/good", "1", [layer_tar({"app/.env": f"T={token}\n".encode()})], [])
        manifest = reg.image("team/corrupt", "1", [layer_tar({"x": b"y"})], [])
        # the configuration blob answers other bytes than its digest names
        size = manifest["config"]["size"]
        other = b"{" + b" " * (size - 2) + b"}"
        reg.routes[f"/v2/team/corrupt/blobs/{manifest['config']['digest']}"] = reg.body(other)
        reg.routes["/v2/team/garbled/manifests/1"] = reg.body(
            b"{not json\n at all", "application/vnd.oci.image.manifest.v1+json"
        )
        reg.routes["/v2/_catalog"] = reg.body(
            b'{"repositories": ["team/good", "team/corrupt", "team/garbled", "team/gone"]}'
        )
        for repo in ("good", "corrupt", "garbled", "gone"):
            reg.routes[f"/v2/team/{repo}/tags/list"] = reg.body(b'{"tags": ["1"]}')

        code, doc, output = _audit(reg, tmp_path, rules)
        assert code == 1, output  # findings, though three images failed
        failed = {f["image"].split("/", 1)[1]: f["reason"] for f in doc["audit"]["failed"]}
        assert set(failed) == {"team/corrupt:1", "team/garbled:1", "team/gone:1"}, failed
        assert "digest" in failed["team/corrupt:1"]
        assert "manifest" in failed["team/garbled:1"]
        assert "404" in failed["team/gone:1"]
        assert all("\n" not in reason and len(reason) < 400 for reason in failed.values())
        assert doc["errors"] == []  # the audit itself ran through
        for image, reason in failed.items():
            assert f"{image}: {reason}" in output  # in the summary, one line each
        assert doc["audit"]["coverage"]["failed"] == 3
        assert doc["findings"] and doc["stats"]["images_scanned"] == 1

        # the rerun: the good image from the state (its blobs gone: not fetched again), only
        # the failed ones asked again
        for path in [p for p in reg.routes if p.startswith("/v2/team/good/blobs/")]:
            del reg.routes[path]
        code, doc, output = _audit(reg, tmp_path, rules)
        assert code == 1, output
        assert doc["stats"]["images_from_state"] == 1 and doc["stats"]["images_failed"] == 3
        assert doc["stats"]["images_scanned"] == 0
        assert {f["redacted"] for f in doc["findings"]} == {f"{token[:4]}…{token[-4:]}"}
