"""``user:password@`` in any address is never shown (issue 19 case 5, the rest of the class:
``scan git`` was fixed; registry and image addresses, and paths, leaked the same way)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from leakscan.userinfo import hide_userinfo
from tests.hardening.helpers import password, write_rules

pytestmark = pytest.mark.timeout(120)


_REGISTRY_ADDRESSES = [
    ["scan", "image", "alice:{pw}@127.0.0.1:9/team/app:1"],
    ["scan", "image", "docker://alice:{pw}@127.0.0.1:9/team/app:1"],
    ["scan", "alice:{pw}@127.0.0.1:9/team/app:1"],
    ["audit", "http://alice:{pw}@127.0.0.1:9", "--insecure", "--state", "{tmp}/s.sqlite"],
    ["audit", "alice:{pw}@127.0.0.1:9", "--insecure", "--state", "{tmp}/s.sqlite"],
]
_GIT_ADDRESS = ["scan", "git", "https://alice:{pw}@127.0.0.1:9/x.git"]


def _argv(args: list[str], tmp_path: Path, pw: str, fmt: str) -> list[str]:
    argv = [a.format(pw=pw, tmp=tmp_path) for a in args]
    if argv[0] == "scan":
        argv += ["--rules", str(write_rules(tmp_path / "rules"))]
    return [*argv, "-vv", "-f", fmt]


@pytest.mark.parametrize("args", _REGISTRY_ADDRESSES)
@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_address_password_never_shown(
    tmp_path: Path, args: list[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (the registry client is Python through and through): the -vv log is
    written to this run's stderr by a handler made for it."""
    from typer.testing import CliRunner

    from leakscan.cli import app

    pw = password()  # leakscan:allow (synthetic)
    monkeypatch.setenv("LEAKSCAN_REGISTRY_TIMEOUT", "1")
    monkeypatch.setattr(logging.getLogger("leakscan"), "handlers", [])
    res = CliRunner().invoke(app, _argv(args, tmp_path, pw, fmt))
    assert res.exit_code == 2, (res.exception, res.stderr[-2000:])
    assert res.stderr.splitlines()[-1].startswith("leakscan: error: "), res.stderr[-2000:]
    assert pw not in res.stdout and pw not in res.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "junit"])
def test_git_address_password_never_shown_by_a_real_process(tmp_path: Path, fmt: str) -> None:
    """A real process: what git itself prints on the way is in its stderr too."""
    pw = password()  # leakscan:allow (synthetic)
    proc = subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *_argv(_GIT_ADDRESS, tmp_path, pw, fmt)],
        capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "leakscan: DEBUG:" in proc.stderr  # the -vv log was on
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
