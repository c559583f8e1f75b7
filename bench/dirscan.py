"""`leakscan scan DIR` beside Kingfisher and Betterleaks on the same tree."""

from __future__ import annotations

import sys

from bench.common import ratio_line, run_line, stdlib_copy, timed, tool, tree_bytes


def run() -> dict[str, float]:
    root = stdlib_copy()
    size = tree_bytes(root) / 1e6
    ours = timed(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "scan",
            str(root),
            "--no-progress",
            "-f",
            "json",
            "-o",
            "/dev/null",
        ]
    )
    print(f"dirscan: {size:.0f} MB of Python's standard library")
    print(run_line("dirscan", "leakscan", ours, size))
    out = {"leakscan_dir_s": ours.seconds}
    kingfisher = tool("kingfisher")
    theirs = None
    if kingfisher:
        run = timed(
            [
                kingfisher,
                "scan",
                str(root),
                "--no-validate",
                "--format",
                "json",
                "--no-update-check",
            ]
        )
        print(run_line("dirscan", "kingfisher", run, size))
        theirs = out["kingfisher_dir_s"] = run.seconds
    print(
        ratio_line("dirscan vs kingfisher", ours.seconds, theirs, "kingfisher")
        + " (aim: at most 0.8x)"
    )
    betterleaks = tool("betterleaks")
    theirs = None
    if betterleaks:
        run = timed(
            [
                betterleaks,  # `betterleaks PATH` (its `dir` word is taken as a second target)
                str(root),
                "--no-banner",
                "-s",
                "-o",
                str(root.parent / "betterleaks.json"),
            ]
        )
        print(run_line("dirscan", "betterleaks", run, size))
        theirs = out["betterleaks_dir_s"] = run.seconds
    print(ratio_line("dirscan vs betterleaks", ours.seconds, theirs, "betterleaks"))
    return out
