"""``leakscan scan PATH…``: files, directories, ``-`` for stdin."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.common import CONTENT_OPTIONS, Options, run_scan, scan_options
from leakscan.sources.interface import Source, SourceOptions


def path_sources(paths: list[str], options: SourceOptions) -> list[Source]:
    """Sources for paths: manifests are recognised by the manifest source when present."""
    try:
        from leakscan.sources.manifests import manifest_aware_source
    except ImportError:  # manifests support not installed in this tree
        from leakscan.sources.filesystem import FilesystemSource

        return [FilesystemSource(p, options) for p in paths]
    return [manifest_aware_source(p, options) for p in paths]


@scan_options(CONTENT_OPTIONS)
def scan_path(
    paths: Annotated[list[str], typer.Argument(help="Files or directories; - for stdin.")],
    no_foreign_allow: Annotated[
        bool,
        typer.Option(
            "--no-foreign-allow",
            help="Honour only leakscan:allow, not gitleaks:allow and the like.",
        ),
    ] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Treat files as: k8s, compose, dockerfile, dotenv, helm."),
    ] = None,
    opts: Options | None = None,
) -> None:
    """Scan files and directories (manifests and nested archives included)."""
    assert opts is not None
    run_scan(lambda options: path_sources(paths, options), opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("path", help="Scan files and directories (the default).")(scan_path)
