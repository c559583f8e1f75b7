"""`leakscan scan git` beside Kingfisher and Betterleaks over a generated 5,000-commit history.

The repository is built once with `git fast-import` (cached under bench/work/) from Python's
standard library: a rolling window of ~300 source files, three of them edited per commit, a file
added every 10 commits and one removed every 25, plus a few synthetic secrets (GitHub-style tokens
with a valid checksum, an AWS key id, a password assignment) added and later removed, as people do.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
import sys
import zlib
from pathlib import Path

from bench.common import WORK, Run, ratio_line, stdlib_copy, timed, tool

COMMITS = 5000
WINDOW = 300  # files in the tree at the start
EDITS_PER_COMMIT = 3
MAX_FILE = 48 * 1024  # skip the largest stdlib files: a typical source file is a few KB
REPO = WORK / f"git-{COMMITS}.git"

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out))


def _github_token(rng: random.Random) -> str:
    body = "".join(rng.choice(_B62) for _ in range(30))  # the CRC covers the random part only
    return "ghp_" + body + _base62(zlib.crc32(body.encode()), 6)


def _aws_key_id(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def _secrets(rng: random.Random) -> dict[int, tuple[str, bytes | None]]:
    """Commit number -> (path, content or None to delete) for the planted secrets."""
    gh1, gh2, aws = _github_token(rng), _github_token(rng), _aws_key_id(rng)
    secret = "".join(rng.choice(_B62) for _ in range(40))
    return {
        700: ("deploy/settings.py", f'GITHUB_TOKEN = "{gh1}"\nDEBUG = False\n'.encode()),
        705: ("deploy/settings.py", b'import os\nGITHUB_TOKEN = os.environ["GITHUB_TOKEN"]\n'),
        2100: (
            "ci/upload.sh",
            f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={aws}\n"
            f"export AWS_SECRET_ACCESS_KEY={secret}\naws s3 sync . s3://b\n".encode(),
        ),
        2140: ("ci/upload.sh", None),
        3900: (
            "tools/release.py",
            f'import requests\nTOKEN = "{gh2}"\n'
            f'requests.post("https://api.github.com", auth=("x", TOKEN))\n'.encode(),
        ),
        3901: ("tools/release.py", None),
    }


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _edit(rng: random.Random, content: bytes, donor: bytes) -> bytes:
    """A small realistic change: replace, insert or delete a few lines."""
    lines = content.split(b"\n")
    donor_lines = donor.split(b"\n")
    at = rng.randrange(len(lines))
    n = rng.randint(1, 4)
    start = rng.randrange(max(1, len(donor_lines) - n))
    patch = donor_lines[start : start + n]
    kind = rng.random()
    if kind < 0.5:
        lines[at : at + n] = patch
    elif kind < 0.85 or len(lines) < 10:
        lines[at:at] = patch
    else:
        del lines[at : at + n]
    return b"\n".join(lines)


def _generate(target: Path) -> None:
    rng = random.Random(5)
    root = stdlib_copy()
    pool = sorted(
        p
        for p in root.rglob("*.py")
        if p.is_file() and not p.is_symlink() and 200 < p.stat().st_size <= MAX_FILE
    )
    rng.shuffle(pool)
    sources = (
        ((f"copy{k}/" if k else "") + p.relative_to(root).as_posix(), p)
        for k in range(100)
        for p in pool
    )  # wraps around as a vendored copy
    tree: dict[str, bytes] = {}

    def add_file() -> bytes:
        rel, path = next(sources)
        tree[rel] = path.read_bytes()
        return b"M 100644 inline %s\n" % rel.encode() + _data(tree[rel])

    planted = _secrets(rng)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tmp)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(tmp), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    out = proc.stdin
    ts = 1_600_000_000
    for n in range(COMMITS):
        ts += rng.randint(60, 20000)
        ops: list[bytes] = []
        if n == 0:
            ops.extend(add_file() for _ in range(WINDOW))
        else:
            names = sorted(tree)
            for path in rng.sample(names, EDITS_PER_COMMIT):
                tree[path] = _edit(rng, tree[path], tree[rng.choice(names)])
                ops.append(b"M 100644 inline %s\n" % path.encode() + _data(tree[path]))
            if n % 10 == 0:
                ops.append(add_file())
            if n % 25 == 0:
                gone = rng.choice(names)
                del tree[gone]
                ops.append(b"D %s\n" % gone.encode())
        if n in planted:
            path, content = planted[n]
            if content is None:
                ops.append(b"D %s\n" % path.encode())
            else:
                ops.append(b"M 100644 inline %s\n" % path.encode() + _data(content))
        who = rng.choice(
            [
                "Ada <ada@example.com>",
                "Lin <lin@example.com>",
                "Sam <sam@example.com>",
                "Kim <kim@example.com>",
            ]
        )
        msg = f"Change {n}: update {len(ops)} file(s)\n".encode()
        out.write(b"commit refs/heads/main\n")
        out.write(
            b"author %s %d +0000\ncommitter %s %d +0000\n" % (who.encode(), ts, who.encode(), ts)
        )
        out.write(_data(msg))
        out.writelines(ops)
        out.write(b"\n")
        if n in (2500, 4500):
            out.write(b"reset refs/tags/v%d\nfrom refs/heads/main\n\n" % (n // 1000))
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(tmp), "gc", "-q", "--aggressive"], check=True)
    tmp.rename(target)


def repository() -> Path:
    if not REPO.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        _generate(REPO)
    return REPO


def _count(path: Path, key: str | None) -> int | None:
    """Findings in a tool's JSON report (a list, or a dict holding a list under ``key``)."""
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError:  # JSON lines
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get(key or "findings", [])
    return len(data) if isinstance(data, list) else None


def _size(repo: Path) -> tuple[int, int, float]:
    commits = int(
        subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--all", "--count"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    objs = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objecttype) %(objectsize)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    blobs = [int(line.split()[1]) for line in objs if line.startswith("blob ")]
    return commits, len(blobs), sum(blobs) / 1e6


def _best(cmd: list[str]) -> Run:
    """The faster of two runs: this machine is shared, the slower run measures the neighbours."""
    first = timed(cmd)
    second = timed(cmd)
    return first if first.seconds <= second.seconds else second


def run() -> dict[str, float]:
    repo = repository()
    empty = WORK / "empty"
    empty.mkdir(parents=True, exist_ok=True)  # a first scan compiles and caches the rules database
    timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
    commits, blobs, blob_mb = _size(repo)
    print(
        f"git: {commits} commits, {blobs} unique blobs ({blob_mb:.0f} MB uncompressed); "
        "each tool: best of 2 runs"
    )
    reports = WORK / "git-reports"
    reports.mkdir(parents=True, exist_ok=True)
    ours_json = reports / "leakscan.json"
    ours = _best(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "scan",
            "git",
            str(repo),
            "--no-progress",
            "-f",
            "json",
            "-o",
            str(ours_json),
        ]
    )
    print(
        f"git: leakscan {ours.seconds:.2f}s, cpu {ours.cpu_seconds:.2f}s, peak RSS "
        f"{ours.peak_rss_mb:.0f} MB, exit {ours.returncode}, "
        f"{_count(ours_json, 'findings')} findings"
    )
    out = {"leakscan_git_s": ours.seconds}

    kingfisher = tool("kingfisher")
    theirs = None
    if kingfisher:
        report = reports / "kingfisher.json"
        run_ = _best(
            [
                kingfisher,
                "scan",
                str(repo),
                "--git-history",
                "full",
                "--no-validate",
                "--no-update-check",
                "--format",
                "json",
                "-o",
                str(report),
            ]
        )
        theirs = out["kingfisher_git_s"] = run_.seconds
        print(
            f"git: kingfisher {run_.seconds:.2f}s, cpu {run_.cpu_seconds:.2f}s, "
            f"exit {run_.returncode}, {_count(report, 'findings')} findings"
        )
    print(
        ratio_line("git vs kingfisher", ours.seconds, theirs, "kingfisher") + " (aim: at most 1.0x)"
    )

    betterleaks = tool("betterleaks")
    theirs = None
    if betterleaks:
        report = reports / "betterleaks.json"
        run_ = _best([betterleaks, "git", str(repo), "--no-banner", "-s", "-o", str(report)])
        theirs = out["betterleaks_git_s"] = run_.seconds
        print(
            f"git: betterleaks {run_.seconds:.2f}s, cpu {run_.cpu_seconds:.2f}s, "
            f"exit {run_.returncode}, {_count(report, 'findings')} findings"
        )
    print(
        ratio_line("git vs betterleaks", ours.seconds, theirs, "betterleaks")
        + " (aim: at most 1.0x)"
    )
    return out
