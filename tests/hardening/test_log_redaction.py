"""No verbosity prints a URL's password (issue 19, case 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.rules_cache import seeded_cache

PASSWORD = "hunter2notlogged"  # leakscan:allow (synthetic test value)


def test_git_url_password_never_logged_at_vv(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    cache = seeded_cache(tmp_path / "cache")
    env = dict(os.environ, LEAKSCAN_CACHE_DIR=str(cache), GIT_TERMINAL_PROMPT="0")
    code = (
        "import sys; from leakscan.cli import app; "
        "sys.argv=['leakscan','scan','git',sys.argv[1],'-vv','-f','json','-o',sys.argv[2]]; app()"
    )
    url = f"https://user:{PASSWORD}@127.0.0.1:1/x.git"
    run = subprocess.run(
        [sys.executable, "-c", code, url, str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert "DEBUG" in run.stderr  # the -vv log lines were written, and redacted
    assert PASSWORD not in run.stdout + run.stderr
    if report.exists():
        assert PASSWORD not in report.read_text(errors="replace")
