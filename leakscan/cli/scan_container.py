"""``leakscan scan container ID|NAME``: a container's environment (or docker inspect JSON)."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.common import (
    BaselineOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    MinConfidenceOpt,
    NoProgressOpt,
    OutputOpt,
    RulesOpt,
    ShowSecretsOpt,
    VerboseOpt,
    options_from,
    run_scan,
)
from leakscan.sources.interface import Source, SourceOptions


def scan_container(
    targets: Annotated[
        list[str],
        typer.Argument(help="Container ids or names; a docker inspect JSON file; - for stdin."),
    ],
    format: FormatOpt = "table",
    output: OutputOpt = None,
    show_secrets: ShowSecretsOpt = False,
    no_progress: NoProgressOpt = False,
    verbose: VerboseOpt = 0,
    min_confidence: MinConfidenceOpt = "low",
    rules: RulesOpt = None,
    baseline: BaselineOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Scan the environment of running or stopped containers."""
    names = list(targets)
    opts = options_from(**{k: v for k, v in locals().items() if k not in ("targets", "names")})

    def sources(options: SourceOptions) -> list[Source]:
        from leakscan.sources.image.container import container_source

        return [container_source(t, options) for t in names]

    run_scan(sources, opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("container", help="Scan a container's environment (SDK or docker inspect "
                     "JSON).")(scan_container)
