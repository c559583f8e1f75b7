"""Small scans, a CI step's size, where start-up is most of the time: `scan DIR` of a small
checkout, `scan git` of a 50-commit history and `scan path x.env` of one file, each beside
Kingfisher and Betterleaks.

The history is `bench/git.py`'s generator cut at 50 commits (its planted secrets at the same
shares of it); the checkout is its last tree without `.git` (`git archive`); the `.env` file
is a service's dozen settings with one live-looking key. Each tool runs at real-time priority
when allowed, one run of each per round, medians of the rounds (`BENCH_SMALL_ROUNDS`, 15).
`BENCH_SMALL_BEFORE=DIR` also runs the leakscan of another tree (e.g. a `git archive` of
main) in the same rounds, as `leakscan-before`. Every tool runs in `bench/work/` (`python -m`
would put the working folder first on the path: a run from a checkout would import that
checkout's leakscan whatever `PYTHONPATH` says).
"""

from __future__ import annotations

import io
import os
import random
import string
import subprocess
import sys
import tarfile
from pathlib import Path

from bench.common import WORK, Run, rounds, timed, tool
from bench.git import repository

COMMITS = 50
ROUNDS = 15
REPO = WORK / f"git-{COMMITS}.git"
CHECKOUT = WORK / f"git-{COMMITS}-checkout"
ENV_FILE = WORK / "small.env"


def checkout(repo: Path) -> Path:
    """The history's last tree, as a CI checkout's files (without ``.git``)."""
    if not CHECKOUT.exists():
        tmp = CHECKOUT.with_name(CHECKOUT.name + ".tmp")
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", "main"],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(CHECKOUT)
    return CHECKOUT


def env_file() -> Path:
    if not ENV_FILE.exists():
        rng = random.Random(7)
        key = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40))
        key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
        ENV_FILE.write_text(
            "APP_ENV=production\n"
            "APP_PORT=8080\n"
            "LOG_LEVEL=info\n"
            "DATABASE_HOST=db.internal\n"
            "DATABASE_NAME=orders\n"
            "DATABASE_USER=orders\n"
            "REDIS_URL=redis://cache.internal:6379/0\n"
            "FEATURE_NEW_CHECKOUT=true\n"
            f"AWS_ACCESS_KEY_ID={key_id}\n"
            f"AWS_SECRET_ACCESS_KEY={key}\n"
            "AWS_REGION=eu-west-1\n"
            "SENTRY_ENVIRONMENT=production\n"
        )
    return ENV_FILE


def _files(root: Path) -> tuple[int, float]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def _commands(
    kind: str, target: Path, before: str | None
) -> dict[str, tuple[list[str], dict[str, str] | None]]:
    reports = WORK / "small-reports"
    reports.mkdir(parents=True, exist_ok=True)
    words = {"dir": ["scan"], "git": ["scan", "git"], "env": ["scan", "path"]}[kind]
    ours = [sys.executable, "-m", "leakscan.cli", *words, str(target), "--no-progress"]
    ours += ["-f", "json", "-o", str(reports / "leakscan.json")]
    here = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "leakscan": (ours, {"PYTHONPATH": path})
    }
    if before:
        cmds["leakscan-before"] = (ours, {"PYTHONPATH": before})
    kingfisher, betterleaks = tool("kingfisher"), tool("betterleaks")
    if kingfisher:
        history = ["--git-history", "full"] if kind == "git" else []
        report = ["--format", "json", "-o", str(reports / "kingfisher.json")]
        flags = ["--no-validate", "--no-update-check", *report]
        cmds["kingfisher"] = ([kingfisher, "scan", str(target), *history, *flags], None)
    if betterleaks:
        # `betterleaks PATH` scans a folder or a file; `betterleaks git REPO` a history
        word = ["git"] if kind == "git" else []
        flags = ["--no-banner", "-s", "-o", str(reports / "betterleaks.json")]
        cmds["betterleaks"] = ([betterleaks, *word, str(target), *flags], None)
    return cmds


def _line(label: str, name: str, run: Run, ours: Run) -> str:
    ratio = (
        f"; leakscan takes {ours.seconds / run.seconds:.2f}x its time" if run is not ours else ""
    )
    return (
        f"{label}: {name} wall {run.seconds:.3f}s, cpu {run.cpu_seconds:.3f}s, "
        f"peak RSS {run.peak_rss_mb:.0f} MB, exit {run.returncode}{ratio}"
    )


def run() -> dict[str, float]:
    # a user's install has its bytecode cached: runs that may not write it measure the compiler
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    repo = repository(REPO, COMMITS)
    folder = checkout(repo)
    env = env_file()
    count = int(os.environ.get("BENCH_SMALL_ROUNDS", ROUNDS))
    before = os.environ.get("BENCH_SMALL_BEFORE")
    files, mb = _files(folder)
    print(
        f"small: a {COMMITS}-commit history; its checkout ({files} files, {mb:.2f} MB); one "
        f".env file. Medians of {count} rounds, tools interleaved, real-time priority if allowed"
    )
    out: dict[str, float] = {}
    for kind, target in (("dir", folder), ("git", repo), ("env", env)):
        cmds = _commands(kind, target, before)
        for cmd, extra in cmds.values():  # compiles and caches the rules database, bytecode
            timed(cmd, extra, WORK)
        done = rounds(cmds, count, WORK)
        ours = done["leakscan"]
        for name, result in done.items():
            print(_line(f"small {kind}", name, result, ours))
            out[f"{name}_small_{kind}_s"] = result.seconds
    return out


if __name__ == "__main__":
    run()
