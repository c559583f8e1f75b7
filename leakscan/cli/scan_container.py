"""``leakscan scan container ID|NAME``: a container's environment (or docker inspect JSON)."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.options import Options, scan_options
from leakscan.cli.run import run_scan
from leakscan.sources.interface import Source, SourceOptions


@scan_options()
def scan_container(
    targets: Annotated[
        list[str],
        typer.Argument(help="Container ids or names; a docker inspect JSON file; - for stdin."),
    ],
    opts: Options | None = None,
) -> None:
    """Scan the environment of running or stopped containers."""
    names = list(targets)
    assert opts is not None

    def sources(options: SourceOptions) -> list[Source]:
        from leakscan.sources.image.container import container_source

        return [container_source(t, options) for t in names]

    run_scan(sources, opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command(
        "container", help="Scan a container's environment (SDK or docker inspect JSON)."
    )(scan_container)
