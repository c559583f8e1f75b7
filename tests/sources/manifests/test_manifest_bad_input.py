"""Hostile or broken manifests: a reported skip for the part that cannot be read, the rest of
the scan goes on, no traceback, no hang."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import github_token, password

runner = CliRunner()

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _scan(root: Path, rules_dir: Path) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(
        app, ["scan", str(root), "--rules", str(rules_dir), "-f", "json", "--show-secrets"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout), result.output


def _found(doc: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    return {
        f["secret"]: [(Path(loc["path"]).name, loc.get("line")) for loc in f["locations"]]
        for f in doc["findings"]
    }


def test_bad_manifests_are_skipped_and_the_scan_goes_on(tmp_path: Path, rules_dir: Path) -> None:
    in_bomb, in_broken, good_b64, good_plain, dotenv_token = (
        github_token(),
        github_token(),
        password(),
        password(),
        github_token(),
    )
    (tmp_path / "bomb.yaml").write_text(BOMB + f"token: {in_bomb}\n")
    (tmp_path / "recursive.yaml").write_text("a: &a [*a, *a]\n")
    (tmp_path / "broken.yaml").write_text(f"a: [1, 2\nb: {{\npassword: {in_broken}\n")
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\ndata:\n"
        f"  broken: '!!not base64!!'\n  password: {base64.b64encode(good_b64.encode()).decode()}\n"
        f"stringData:\n  token: {good_plain}\n"
    )
    (tmp_path / ".env").write_bytes(b"TOKEN=\x00\x01\x02\x03\xff\xfe\x00" * 50)
    (tmp_path / "prod.env").write_text(f"GITHUB_TOKEN={dotenv_token}\n")
    (tmp_path / "bad.json").write_text('{"password": "x", ')
    (tmp_path / "bad.toml").write_text("password = = 1\n")
    started = time.monotonic()
    code, doc, _ = _scan(tmp_path, rules_dir)
    assert time.monotonic() - started < 20
    assert code == 1
    skipped = {Path(s["where"].split(" ")[0]).name: s["reason"] for s in doc["skipped"]}
    assert "YAML bomb" in skipped["bomb.yaml"]
    assert "recursive.yaml" in skipped
    assert "invalid YAML" in skipped["broken.yaml"]
    assert "base64" in skipped["secret.yaml"]
    assert any("[data.broken]" in s["where"] for s in doc["skipped"])
    assert "binary" in skipped[".env"]
    assert "invalid JSON" in skipped["bad.json"] and "invalid TOML" in skipped["bad.toml"]
    found = _found(doc)
    # the text scan of a file whose structure could not be read still happens
    assert found[in_bomb] == [("bomb.yaml", 10)]
    assert found[in_broken] == [("broken.yaml", 3)]
    # the rest of a Secret with one bad value is read
    assert found[good_b64] == [("secret.yaml", 5)] and found[good_plain] == [("secret.yaml", 7)]
    assert found[dotenv_token] == [("prod.env", 1)]


def test_skips_listed_with_verbose_table(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "bomb.yml").write_text(BOMB)
    result = runner.invoke(app, ["scan", str(tmp_path), "--rules", str(rules_dir), "-v"])
    assert result.exit_code == 0
    assert "bomb.yml" in result.output and "YAML bomb" in result.output
