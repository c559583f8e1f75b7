"""``leakscan scan git PATH|URL``: a repository's whole history, a CI range, or staged changes."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli import early
from leakscan.cli.exits import fail
from leakscan.cli.options import CONTENT_OPTIONS, Options, scan_options
from leakscan.cli.run import run_scan
from leakscan.sources.interface import SourceOptions

_GIT_KEYS = (
    "target",
    "branch",
    "max_depth",
    "range_",
    "since_commit",
    "unreachable",
    "all_objects",
    "staged",
)


@scan_options(CONTENT_OPTIONS)
def scan_git(
    target: Annotated[str, typer.Argument(help="Repository path or URL (cloned as a mirror).")],
    branch: Annotated[
        list[str] | None,
        typer.Option("--branch", help="Only history reachable from this ref (repeatable)."),
    ] = None,
    max_depth: Annotated[
        int | None, typer.Option("--max-depth", help="Only the N most recent commits.")
    ] = None,
    range_: Annotated[
        str | None,
        typer.Option("--range", help="BASE..HEAD: only what these commits introduce (CI)."),
    ] = None,
    since_commit: Annotated[
        str | None, typer.Option("--since-commit", help="Only what came after REV (REV..HEAD).")
    ] = None,
    unreachable: Annotated[
        bool,
        typer.Option(
            "--unreachable/--no-unreachable",
            help="Whole-history scans of a local repository also read the objects no ref "
            "reaches (a reset or rebase leaves them; a fresh clone has none).",
        ),
    ] = True,
    all_objects: Annotated[
        bool, typer.Option("--all-objects", hidden=True, help="Same as --unreachable.")
    ] = False,
    staged: Annotated[
        bool, typer.Option("--staged", help="Scan the staged changes (pre-commit hook).")
    ] = False,
    opts: Options | None = None,
) -> None:
    """Scan git history: every ref, each blob once, the commit that introduced it."""
    assert opts is not None
    from leakscan.sources.git import GitSource

    if sum(bool(x) for x in (range_, since_commit, staged)) > 1:
        fail("use only one of --range, --since-commit and --staged")
    if max_depth is not None and max_depth < 1:
        fail("--max-depth must be at least 1")
    git_options = early.git_options(
        target,
        branches=branch or (),
        max_depth=max_depth,
        range_=range_,
        since_commit=since_commit,
        unreachable=unreachable,
        all_objects=all_objects,
        staged=staged,
    )

    opts.staged = staged
    begun = early.take()  # the walk begun at start-up, if it was (leakscan.cli.early)

    def sources(options: SourceOptions) -> list[GitSource]:
        return [GitSource(target, options, git_options, begun)]

    run_scan(sources, opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("git", help="Scan a git repository's history (path or URL).")(scan_git)
