"""`leakscan scan git` beside Kingfisher and Betterleaks over a generated 5,000-commit history.

The repository is built once with `git fast-import` (cached under bench/work/) from Python's
standard library, in the shape of a real project's history. The rates are measured on this
project's own history (leakscan, 459 commits: `git log --all --raw --numstat -M`) and the file
sizes on its tree and on pyenv's (1,494 files):

- files written per commit: deciles 1 1 1 1 2 2 3 3 5 7 (mean 3.4), one commit in 50 a larger
  one of 8-40 files;
- what a commit does to a file: 72% edits, 28% new files, 0.4% deletions, 0.2% renames (the
  measured 0.1%, doubled: a young project renames less than an older one);
- an edit is a hunk (two for larger ones) with added lines at the deciles 0 1 2 3 4 6 9 14 23 43
  and deleted lines at 0 0 0 1 1 2 3 4 7 17;
- a new file's size follows the deciles 0.5 1.5 2.6 3.4 4.4 5.6 7.3 9.8 15 KB (max 48 KB):
  the standard-library file nearest to a drawn size;
- one commit in 17 is a merge of a topic branch of 1-4 commits (27 merges in 459 commits).

A few synthetic secrets (GitHub-style tokens with a valid checksum, an AWS key id, a password
assignment) are added and later removed, as people do.
"""

from __future__ import annotations

import bisect
import json
import os
import random
import shutil
import string
import subprocess
import sys
import zlib
from pathlib import Path

from bench.common import WORK, Run, ratio_line, rounds, stdlib_copy, timed, tool

COMMITS = 5000
FIRST_COMMIT_FILES = 30  # the skeleton a project starts from
FILES_PER_COMMIT = (1, 1, 1, 1, 2, 2, 3, 3, 5, 7)
LARGE_COMMIT = 0.02  # share of commits that write 8-40 files (max measured: 81)
KINDS = (("M", 0.718), ("A", 0.276), ("D", 0.004), ("R", 0.002))
ADDED_LINES = (0, 1, 2, 3, 4, 6, 9, 14, 23, 43)
DELETED_LINES = (0, 0, 0, 1, 1, 2, 3, 4, 7, 17)
SIZE_DECILES = (0, 466, 1512, 2568, 3416, 4386, 5603, 7292, 9827, 15446, 48235)
MERGE_EVERY = 17  # commits per merge of a topic branch
MAX_FILE = 48 * 1024
REPO = WORK / f"git-{COMMITS}-v2.git"  # v2: the measured shape (v1: 3 edits per commit)

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
    """A realistic change: one hunk (two for larger ones) of deleted and added lines."""
    lines = content.split(b"\n")
    donor_lines = donor.split(b"\n")
    added, deleted = rng.choice(ADDED_LINES), rng.choice(DELETED_LINES)
    if added + deleted == 0:
        added = 1
    hunks = 2 if added + deleted > 10 else 1
    for h in range(hunks):
        at = rng.randrange(len(lines) + 1)
        n_add = added // hunks + (added % hunks if h == 0 else 0)
        n_del = deleted // hunks + (deleted % hunks if h == 0 else 0)
        start = rng.randrange(max(1, len(donor_lines) - n_add))
        lines[at : at + n_del] = donor_lines[start : start + n_add]
    return b"\n".join(lines)


def _kind(rng: random.Random) -> str:
    r = rng.random()
    for kind, share in KINDS:
        if r < share:
            return kind
        r -= share
    return "M"


def _generate(target: Path, commits: int = COMMITS) -> None:
    """``commits`` commits (a shorter history: the planted secrets at the same shares of it)."""
    rng = random.Random(5)
    root = stdlib_copy()
    pool = sorted(
        (p.stat().st_size, p.relative_to(root).as_posix(), p)
        for p in root.rglob("*.py")
        if p.is_file() and not p.is_symlink() and 0 < p.stat().st_size <= MAX_FILE
    )
    sizes = [size for size, _, _ in pool]
    used: dict[str, int] = {}
    tree: dict[str, bytes] = {}

    def new_file() -> tuple[str, bytes]:
        band = rng.randrange(len(SIZE_DECILES) - 1)
        want = rng.randint(SIZE_DECILES[band], SIZE_DECILES[band + 1])
        at = min(bisect.bisect_left(sizes, want) + rng.randint(-3, 3), len(pool) - 1)
        _, rel, path = pool[max(at, 0)]
        k = used[rel] = used.get(rel, -1) + 1
        name = (f"copy{k}/" if k else "") + rel  # a file used again: a vendored copy
        return name, path.read_bytes()

    def m(path: str) -> bytes:
        return b"M 100644 inline %s\n" % path.encode() + _data(tree[path])

    def changes(count: int, touched: set[str]) -> list[bytes]:
        ops: list[bytes] = []
        names = sorted(tree)
        for _ in range(count):
            kind = _kind(rng) if names else "A"
            if kind == "A" or len(names) < 5:
                name, data = new_file()
                tree[name] = data
                ops.append(m(name))
                touched.add(name)
            elif kind == "M":
                path = rng.choice(names)
                tree[path] = _edit(rng, tree[path], tree[rng.choice(names)])
                ops.append(m(path))
                touched.add(path)
            elif kind == "D":
                path = rng.choice(names)
                del tree[path]
                names.remove(path)
                ops.append(b"D %s\n" % path.encode())
                touched.add(path)
            else:  # a rename: the same blob at a new path
                path = rng.choice(names)
                new = "legacy/" + path
                if new in tree:
                    continue
                tree[new] = tree.pop(path)
                names.remove(path)
                ops.append(b"R %s %s\n" % (path.encode(), new.encode()))
                touched |= {path, new}
        return ops

    planted = _secrets(rng)
    if commits != COMMITS:
        planted = {
            at * commits // COMMITS + i: change
            for i, (at, change) in enumerate(sorted(planted.items()))
        }
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tmp)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(tmp), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    out = proc.stdin
    ts = 1_600_000_000
    mark = 0
    main_tip = 0  # the mark of main's last commit
    topic: tuple[int, int, set[str]] | None = None  # (commits left, tip mark, paths touched)
    people = [
        "Ada <ada@example.com>",
        "Lin <lin@example.com>",
        "Sam <sam@example.com>",
        "Kim <kim@example.com>",
    ]

    def commit(ref: str, ops: list[bytes], parents: list[int], msg: str) -> int:
        nonlocal ts, mark
        ts += rng.randint(60, 20000)
        mark += 1
        who = rng.choice(people).encode()
        out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
        out.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (who, ts, who, ts))
        out.write(_data(msg.encode()))
        if parents:
            out.write(b"from :%d\n" % parents[0])
            out.writelines(b"merge :%d\n" % p for p in parents[1:])
        out.writelines(ops)
        out.write(b"\n")
        return mark

    n = 0
    while n < commits:
        touched: set[str] = set()
        if n == 0:
            ops = changes(FIRST_COMMIT_FILES, touched)
        elif rng.random() < LARGE_COMMIT:
            ops = changes(rng.randint(8, 40), touched)
        else:
            ops = changes(rng.choice(FILES_PER_COMMIT), touched)
        if n in planted:
            path, content = planted[n]
            if content is None:
                tree.pop(path, None)
                ops.append(b"D %s\n" % path.encode())
            else:
                tree[path] = content
                ops.append(m(path))
            touched.add(path)
        # a topic starts about every MERGE_EVERY - 3 commits: with its ~2.5 commits and the
        # merge, one commit in MERGE_EVERY is a merge
        if topic is None and n > 0 and rng.random() < 1 / (MERGE_EVERY - 3):
            topic = (rng.randint(1, 4), main_tip, set())
        if topic is not None:
            left, tip, paths = topic
            tip = commit("refs/heads/topic", ops, [tip], f"Topic change {n}\n")
            paths |= touched
            if left > 1:
                topic = (left - 1, tip, paths)
            else:  # merged with --no-ff: the merge writes the topic's result over main's tip
                n += 1
                merge_ops = [m(p) if p in tree else b"D %s\n" % p.encode() for p in sorted(paths)]
                main_tip = commit(
                    "refs/heads/main", merge_ops, [main_tip, tip], f"Merge topic ({n})\n"
                )
                topic = None
        else:
            main_tip = commit(
                "refs/heads/main",
                ops,
                [main_tip] if main_tip else [],
                f"Change {n}: update {len(ops)} file(s)\n",
            )
        n += 1
        if n in (2500, 4500):
            out.write(b"reset refs/tags/v%d\nfrom :%d\n\n" % (n // 1000, main_tip))
    out.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(tmp), "gc", "-q", "--aggressive"], check=True)
    tmp.rename(target)


def repository(target: Path = REPO, commits: int = COMMITS) -> Path:
    """The generated history of ``commits`` commits at ``target`` (made once, then kept)."""
    if not target.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        _generate(target, commits)
    return target


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


ROUNDS = 10  # each tool's runs, interleaved with the others' (BENCH_GIT_ROUNDS)


def _rounds(cmds: dict[str, list[str]]) -> dict[str, Run]:
    """Each command run ``ROUNDS`` times (``BENCH_GIT_ROUNDS``), interleaved; their medians."""
    return rounds(
        {name: (cmd, None) for name, cmd in cmds.items()},
        int(os.environ.get("BENCH_GIT_ROUNDS", ROUNDS)),
    )


def run() -> dict[str, float]:
    repo = repository()
    empty = WORK / "empty"
    empty.mkdir(parents=True, exist_ok=True)  # a first scan compiles and caches the rules database
    timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
    commits, blobs, blob_mb = _size(repo)
    rounds = int(os.environ.get("BENCH_GIT_ROUNDS", ROUNDS))
    print(
        f"git: {commits} commits, {blobs} unique blobs ({blob_mb:.0f} MB uncompressed); "
        f"each tool: median of {rounds} runs, interleaved, at real-time priority when allowed"
    )
    reports = WORK / "git-reports"
    reports.mkdir(parents=True, exist_ok=True)
    ours_json = reports / "leakscan.json"
    cmds = {
        "leakscan": [
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
    }
    kingfisher, betterleaks = tool("kingfisher"), tool("betterleaks")
    if kingfisher:
        cmds["kingfisher"] = [
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
            str(reports / "kingfisher.json"),
        ]
    if betterleaks:
        cmds["betterleaks"] = [
            betterleaks,
            "git",
            str(repo),
            "--no-banner",
            "-s",
            "-o",
            str(reports / "betterleaks.json"),
        ]
    done = _rounds(cmds)
    ours = done["leakscan"]
    print(
        f"git: leakscan {ours.seconds:.2f}s, cpu {ours.cpu_seconds:.2f}s, peak RSS "
        f"{ours.peak_rss_mb:.0f} MB, exit {ours.returncode}, "
        f"{_count(ours_json, 'findings')} findings"
    )
    out = {"leakscan_git_s": ours.seconds}
    for name, key in (("kingfisher", "findings"), ("betterleaks", None)):
        theirs = None
        if name in done:
            run_ = done[name]
            theirs = out[f"{name}_git_s"] = run_.seconds
            print(
                f"git: {name} {run_.seconds:.2f}s, cpu {run_.cpu_seconds:.2f}s, "
                f"exit {run_.returncode}, {_count(reports / f'{name}.json', key)} findings"
            )
        print(ratio_line(f"git vs {name}", ours.seconds, theirs, name) + " (aim: at most 1.0x)")
    return out
