"""Images in a real registry (docker-registry, pushed with skopeo and the API) for audits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.findings import fingerprint
from tests.helpers import aws_key_id, github_token, password, write_rules
from tests.plugins.registry import Registry, api_push, build_oci, make_image, skopeo_push

pytestmark = pytest.mark.registry


@dataclass
class World:
    reg: Registry
    rules: Path
    tmp: Path
    secrets: dict[str, str] = field(default_factory=dict)
    config: Path | None = None
    baseline: Path | None = None
    base: dict[str, bytes | None] = field(default_factory=dict)


def _vendor_layer(token: str) -> dict[str, bytes | None]:
    """A base layer: os files, a token in a config, a dpkg-vouched file holding a token."""
    vendored = f"sample_token = {token}\n".encode()
    md5 = hashlib.md5(vendored).hexdigest()
    return {
        "etc/os-release": b"ID=test\n",
        "usr/share/tool/sample.conf": vendored,
        "var/lib/dpkg/info/tool.md5sums": f"{md5}  usr/share/tool/sample.conf\n".encode(),
    }


@pytest.fixture(scope="package")
def world(registry_server: Registry, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("audit-world")
    s = {
        "vendor": github_token(),
        "base": github_token(),
        "allowed": github_token(),
        "plain": github_token(),
        "deleted": github_token(),
        "excluded": github_token(),
        "aws": aws_key_id(),
        "web": github_token(),
        "accepted": github_token(),
        "password": password(),
    }
    base = {**_vendor_layer(s["vendor"]), "etc/base.conf": f"token: {s['base']}\n".encode()}
    app_layers: list[dict[str, bytes | None]] = [
        base,
        {
            # one token allowed inline, one plain: scan image reports the plain one only
            "app/a.env": (
                f"ALLOWED={s['allowed']}  # leakscan:allow\nDEBUG=1\nPLAIN={s['plain']}\n"
            ).encode(),
            "app/.env": f"GITHUB_TOKEN={s['deleted']}\n".encode(),
            "srv/cache/x.txt": f"token {s['excluded']}\n".encode(),
            "app/config.ini": f"password = {s['password']}\n".encode(),
        },
        {"app/.env": None},
    ]
    app_image = make_image(
        app_layers, env=[f"AWS_ACCESS_KEY_ID={s['aws']}", f"COPY=key {s['aws']}", "PATH=/bin"]
    )
    skopeo_push(build_oci(tmp / "app-oci", app_image, "v1"), "v1", registry_server, "au/app")
    api_push(registry_server, "au/app", "alias", app_image)  # two tags, one digest
    web = make_image([base, {"srv/web.conf": f"t1={s['web']}\nt2={s['accepted']}\n".encode()}])
    api_push(registry_server, "au/web", "1", web)
    rules = write_rules(tmp / "rules")
    config = tmp / "leakscan.toml"
    config.write_text('exclude = ["srv/cache/*"]\n')
    baseline = tmp / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "version": 1,
                "entries": [{"fingerprint": fingerprint("test.github.pat", s["accepted"])}],
            }
        )
    )
    return World(registry_server, rules, tmp, s, config, baseline, base)


def run_cli(
    args: list[str], out: Path, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    """Run leakscan in-process with a JSON report written to ``out``."""
    result = CliRunner().invoke(app, [*args, "--format", "json", "-o", str(out)], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    doc = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, doc, result.output


def audit(
    world: World,
    tmp: Path,
    *args: str,
    state: Path | None = None,
    cache: Path | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    state = state or tmp / "state.sqlite"
    out = tmp / f"audit-{len(list(tmp.iterdir()))}.json"
    full_env = {"LEAKSCAN_CONTENT_CACHE": str(cache or tmp / "content.sqlite"), **(env or {})}
    return run_cli(
        ["audit", world.reg.host, "--insecure", "--state", str(state), "--rules",
         str(world.rules), "--no-progress", *args],
        out,
        full_env,
    )  # fmt: skip


def scan_image(
    world: World, tmp: Path, ref: str, *args: str, cache: Path | None = None
) -> tuple[int, dict[str, Any], str]:
    out = tmp / f"scan-{len(list(tmp.iterdir()))}.json"
    env = {"LEAKSCAN_CONTENT_CACHE": str(cache) if cache else "off"}
    return run_cli(
        ["scan", "image", ref, "--rules", str(world.rules), "--no-progress", *args], out, env
    )


def placed(doc: dict[str, Any], image: str | None = None) -> dict[str, list[str]]:
    """fingerprint -> its locations (as sorted JSON), of one image or of all."""
    out: dict[str, list[str]] = {}
    for f in doc["findings"]:
        locs = [
            json.dumps(loc, sort_keys=True)
            for loc in f["locations"]
            if image is None or loc.get("image") == image
        ]
        if locs:
            out[f"{f['rule_id']} {f['fingerprint']}"] = sorted(locs)
    return out
