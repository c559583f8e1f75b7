"""The audit's HTML report: one self-contained page, checked in headless Chromium (Debian's
``chromium``): it renders, its charts are drawn, and a filter hides rows."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.audit.conftest import World
from tests.conftest import require

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def report(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    out = tmp / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "audit",
            world.reg.host,
            "--insecure",
            "--state",
            str(tmp / "s.sqlite"),
            "--rules",
            str(world.rules),
            "--repo",
            "au/app",
            "--repo",
            "au/web",
            "--no-progress",
            "--format",
            "html",
            "-o",
            str(out),
        ],
        env={"LEAKSCAN_CONTENT_CACHE": str(tmp / "c.sqlite")},
    )
    assert result.exit_code == 1, result.output
    return out


def test_report_content(report: Path, world: World) -> None:
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert world.reg.host in html and "sha256:" in html  # registry, rules digest
    assert re.search(r"Tags</td><td>3<", html) and re.search(r"Images failed</td><td>0<", html)
    assert "au/app:alias, au/app:v1" in html  # the tags of one digest, grouped
    assert "base layer shared by 2 images" in html  # the base token: app's and web's base
    for secret in world.secrets.values():
        assert secret not in html
    # self-contained: no external script, style, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "chromium is not installed")
    assert path is not None
    return path


def _headless(browser: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp / 'profile'}",
            "--virtual-time-budget=2000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_chromium_renders_charts_and_a_filter_hides_rows(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    url = report.resolve().as_uri()
    shot = tmp_path / "page.png"
    done = _headless(browser, tmp_path, f"--screenshot={shot}", "--window-size=1280,1800", url)
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]

    full = _headless(browser, tmp_path, "--dump-dom", url).stdout
    assert 'data-ready="1"' in full  # the script ran
    bars = re.findall(r'<rect class="bar"', full)
    assert len(bars) >= 5  # severities, rule families and repositories drawn
    rows = re.findall(r"<tr data-repos=\"([^\"]*)\"[^>]*?data-severity[^>]*>", full)
    assert rows and not re.search(r"<tr data-repos=[^>]*hidden", full)

    filtered = _headless(browser, tmp_path, "--dump-dom", f"{url}?repo={quote('au/web')}").stdout
    secret_rows = re.findall(r"<tr data-repos=[^>]*data-severity[^>]*>", filtered)
    shown = [r for r in secret_rows if " hidden" not in r]
    hidden = [r for r in secret_rows if " hidden" in r]
    assert len(secret_rows) == len(rows) and shown and hidden
    assert all("au/web" in r for r in shown)
    assert all("au/web" not in r for r in hidden)
    assert f'<b id="shown">{len(shown)}</b>' in filtered


def test_the_image_x_secret_view_says_what_it_leaves_out() -> None:
    from leakscan.audit.html import MAX_COLUMNS, render
    from leakscan.model import Finding, Location, Provenance, ScanResult, Stats

    ref = "reg.example:5000/team/app:1"
    prov = Provenance(
        "image-layer",
        {"image": ref, "image_digest": "sha256:" + "a" * 64, "layer_digest": "sha256:" + "b" * 64,
         "layer_index": 0, "path": "x.env", "state": "present"},
    )  # fmt: skip
    findings = [
        Finding(f"{n:064x}", "r.x", "X", "high", "high", "x…y", None, [Location(prov, n, 1)])
        for n in range(MAX_COLUMNS + 5)
    ]
    audit = {
        "registry": "reg.example:5000",
        "tags": [
            {"image": ref, "repository": "team/app", "tag": "1", "status": "scanned",
             "images": [{"digest": "sha256:" + "a" * 64, "layers": ["sha256:" + "b" * 64]}]},
        ],
        "repositories": {"team/app": {"images": 1, "failed": 0, "secrets": MAX_COLUMNS + 5}},
    }  # fmt: skip
    html = render(ScanResult(findings, [], Stats()), audit)
    assert f"Showing the first {MAX_COLUMNS} of {MAX_COLUMNS + 5} secrets" in html
    assert f">S{MAX_COLUMNS}</th>" in html and f">S{MAX_COLUMNS + 1}</th>" not in html
    assert html.count("<tr data-repos=") == (MAX_COLUMNS + 5) + 1 + 1  # secrets, image, repo
