"""``leakscan scan git PATH``: the history walk begins before the program has finished starting.

Importing the command line, the engine and the rules takes a core for ~0.3 s while git is
idle. :func:`begin` reads the command line first (before those imports: ``leakscan.cli``
calls it at its top), and for ``scan git`` of a local repository starts the walk's git
processes (:class:`~leakscan.sources.git.prelude.Early`) so that git works while Python
imports. The ``scan git`` command then hands it to its source (:func:`take`), which uses it
only when it was begun for the very target and options the parsed command line asks for;
anything else (a command line read differently here, a usage error, ``--help``) leaves it
unused and its git processes ended.

This reading of the command line is a guess, never the authority: an option it does not know
makes it begin nothing. ``tests/cli/test_early.py`` keeps its table equal to the command's
options.
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakscan.sources.git.options import GitOptions
    from leakscan.sources.git.prelude import Early

#: ``scan git`` options that take a value, and those that do not (flags, counts)
VALUE_OPTIONS = frozenset(
    {
        "--baseline",
        "--branch",
        "--config",
        "--exclude",
        "--fail-on",
        "--format",
        "--jobs",
        "--max-archive-depth",
        "--max-decoded-regions",
        "--max-depth",
        "--max-file-size",
        "--max-hits-per-rule",
        "--max-ratio",
        "--min-confidence",
        "--output",
        "--range",
        "--regex-timeout",
        "--report",
        "--rules",
        "--since-commit",
        "--validate-endpoint",
        "-f",
        "-j",
        "-o",
    }
)
FLAG_OPTIONS = frozenset(
    {
        "--all-objects",
        "--no-progress",
        "--no-unreachable",
        "--only-valid",
        "--scan-binary",
        "--show-secrets",
        "--staged",
        "--unreachable",
        "--validate",
        "--verbose",
        "-v",
    }
)

#: the cyclic collector's thresholds of a run (set by ``main()``, and by :func:`begin` for a
#: scan, before its imports and its walk: those objects live to the end of the run, and
#: frequent passes over them find nothing to free)
GC_THRESHOLDS = (50_000, 20, 20)

_begun: Early | None = None


def git_options(
    target: str,
    *,
    branches: Sequence[str] = (),
    max_depth: int | None = None,
    range_: str | None = None,
    since_commit: str | None = None,
    unreachable: bool = True,
    all_objects: bool = False,
    staged: bool = False,
) -> GitOptions:
    """What ``scan git`` asks of its source. Unreachable objects belong to a whole-history
    scan of a repository on this machine (a clone made for a URL has none)."""
    from leakscan.sources.git.options import GitOptions  # the git package: for `scan git` only

    narrowed = bool(branches or max_depth or range_ or since_commit or staged)
    return GitOptions(
        branches=tuple(branches),
        max_depth=max_depth,
        range=range_,
        since_commit=since_commit,
        all_objects=all_objects or (unreachable and not narrowed and os.path.isdir(target)),
        staged=staged,
    )


def request(args: Sequence[str]) -> tuple[str, GitOptions] | None:
    """(target, options) of a ``scan git`` command line that would walk a history, as far as
    this reading can tell; None for any other."""
    if list(args[:2]) != ["scan", "git"]:
        return None
    values: dict[str, list[str]] = {}
    flags: set[str] = set()
    positional: list[str] = []
    rest = list(args[2:])
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positional += rest
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in VALUE_OPTIONS:
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            values.setdefault(name, []).append(value)
        elif name in FLAG_OPTIONS and not eq:
            flags.add(name)
        elif arg.startswith("-v") and set(arg[1:]) == {"v"}:
            flags.add("-v")  # -vv
        elif arg[:2] in VALUE_OPTIONS and not arg.startswith("--"):
            values.setdefault(arg[:2], []).append(arg[2:])  # -j2, -ojson
        else:
            return None  # --help, or an option this reading does not know
    if len(positional) != 1:
        return None
    depth = values.get("--max-depth", [None])[-1]
    try:
        max_depth = int(depth) if depth is not None else None
    except ValueError:
        return None
    if max_depth is not None and max_depth < 1:
        return None
    range_ = values.get("--range", [None])[-1]
    since = values.get("--since-commit", [None])[-1]
    staged = "--staged" in flags
    if staged or (range_ and since):
        return None
    if {"--unreachable", "--no-unreachable"} <= flags:
        return None  # the last one given wins: not followed here
    target = positional[0]
    return target, git_options(
        target,
        branches=values.get("--branch", []),
        max_depth=max_depth,
        range_=range_,
        since_commit=since,
        unreachable="--no-unreachable" not in flags,
        all_objects="--all-objects" in flags,
    )


def begin(args: Sequence[str]) -> None:
    """Begin the history walk a ``scan git`` command line asks for (nothing for others);
    for any scan, the collector's thresholds are those of the run from here on (its
    imports then pass fewer times over objects that stay: ~8 ms)."""
    global _begun
    if list(args[:1]) == ["scan"]:
        gc.set_threshold(*GC_THRESHOLDS)
    asked = request(args)
    if asked is None or _begun is not None:
        return
    from leakscan.sources.git.prelude import Early

    _begun = Early(*asked)
    atexit.register(_begun.close)


def take() -> Early | None:
    """The walk :func:`begin` began (once; None when none was)."""
    global _begun
    begun, _begun = _begun, None
    return begun
