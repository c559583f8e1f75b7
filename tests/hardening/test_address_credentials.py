"""``user:password@`` in any address is never shown (issue 19 case 5, the rest of the class:
``scan git`` was fixed; registry and image addresses, and paths, leaked the same way)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leakscan.userinfo import hide_userinfo
from tests.hardening.helpers import password, write_rules

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "image", "alice:{pw}@127.0.0.1:9/team/app:1"],
        ["scan", "image", "docker://alice:{pw}@127.0.0.1:9/team/app:1"],
        ["scan", "alice:{pw}@127.0.0.1:9/team/app:1"],
        ["audit", "http://alice:{pw}@127.0.0.1:9", "--insecure", "--state", "{tmp}/s.sqlite"],
        ["audit", "alice:{pw}@127.0.0.1:9", "--insecure", "--state", "{tmp}/s.sqlite"],
        ["scan", "git", "https://alice:{pw}@127.0.0.1:9/x.git"],
    ],
)
@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_address_password_never_shown(tmp_path: Path, args: list[str], fmt: str) -> None:
    pw = password()  # leakscan:allow (synthetic)
    rules = write_rules(tmp_path / "rules")
    argv = [a.format(pw=pw, tmp=tmp_path) for a in args]
    if argv[0] == "scan":
        argv += ["--rules", str(rules)]
    env = {**os.environ, "LEAKSCAN_REGISTRY_TIMEOUT": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *argv, "-vv", "-f", fmt],
        capture_output=True, text=True, timeout=100, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert pw not in proc.stdout and pw not in proc.stderr


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://a:b@host/x", "https://***@host/x"),
        ("alice:pw@registry:5000/app", "***@registry:5000/app"),
        ("app:1.0@sha256:" + "a" * 64, "app:1.0@sha256:" + "a" * 64),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("mail user@example.com", "mail user@example.com"),
    ],
)
def test_hide_userinfo(text: str, shown: str) -> None:
    assert hide_userinfo(text) == shown
