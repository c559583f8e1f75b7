"""Build real git repositories for the tests: fixed identities, one minute between commits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from typer.testing import CliRunner


class GitRepo:
    def __init__(self, path: Path, init: bool = True) -> None:
        self.path = path
        self.time = 1_700_000_000
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main")

    def env(self) -> dict[str, str]:
        stamp = f"@{self.time} +0000"
        return {
            **os.environ,
            "GIT_AUTHOR_NAME": "Dev One",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev One",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.path),
        }

    def git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
            cwd=self.path,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)

    def commit(self, message: str, files: dict[str, str | None] | None = None) -> str:
        self.write(files or {})
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.time += 60
        return self.git("rev-parse", "HEAD")

    def tick(self) -> None:
        self.time += 60


def scan_argv(repo: GitRepo, rules: Path, *args: str) -> list[str]:
    """``leakscan scan git`` of ``repo`` with ``rules`` only, a JSON report, secrets shown."""
    argv = ["scan", "git", str(repo.path), *args, "-f", "json", "--show-secrets"]
    return [*argv, "--no-progress", "--rules", str(rules)]


def report(argv: list[str]) -> tuple[int, dict[str, Any]]:
    """The exit code and JSON report of a command line run in this process, without the
    run's time (two runs' reports compare equal)."""
    from leakscan.cli import app

    result = CliRunner().invoke(app, argv)
    doc: dict[str, Any] = json.loads(result.stdout)
    doc["stats"].pop("seconds", None)
    return result.exit_code, doc
