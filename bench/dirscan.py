"""`leakscan scan DIR` beside Kingfisher and Betterleaks on the same tree."""

from __future__ import annotations

import sys

from bench.common import ratio_line, stdlib_copy, timed, tool, tree_bytes


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
    print(
        f"dirscan: leakscan scan of {size:.0f} MB: {ours.seconds:.2f}s "
        f"({size / ours.seconds:.0f} MB/s), exit {ours.returncode}"
    )
    out = {"leakscan_dir_s": ours.seconds}
    kingfisher = tool("kingfisher")
    theirs = None
    if kingfisher:
        theirs = timed(
            [
                kingfisher,
                "scan",
                str(root),
                "--no-validate",
                "--format",
                "json",
                "--no-update-check",
            ]
        ).seconds
        out["kingfisher_dir_s"] = theirs
    print(ratio_line("dirscan vs kingfisher", ours.seconds, theirs, "kingfisher"))
    betterleaks = tool("betterleaks")
    theirs = None
    if betterleaks:
        theirs = timed(
            [
                betterleaks,  # `betterleaks PATH` (its `dir` word is taken as a second target)
                str(root),
                "--no-banner",
                "-s",
                "-o",
                str(root.parent / "betterleaks.json"),
            ]
        ).seconds
        out["betterleaks_dir_s"] = theirs
    print(ratio_line("dirscan vs betterleaks", ours.seconds, theirs, "betterleaks"))
    return out
