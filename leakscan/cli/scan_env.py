"""``leakscan scan env``: environment variables (this process's, or from a file / stdin)."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.options import MaxFileSizeOpt, Options, scan_options
from leakscan.cli.run import run_scan
from leakscan.sources.interface import Source, SourceOptions


@scan_options((("max_file_size", MaxFileSizeOpt, None),))
def scan_env(
    from_file: Annotated[
        list[str] | None,
        typer.Option("--from-file", help="KEY=VALUE or dotenv file to read instead; - for stdin."),
    ] = None,
    opts: Options | None = None,
) -> None:
    """Scan environment variables: names and (redacted) values."""
    files = list(from_file or [])
    assert opts is not None

    def sources(options: SourceOptions) -> list[Source]:
        from leakscan.sources.env import EnvFileSource, ProcessEnvSource  # only when used

        if files:
            return [EnvFileSource(f, options) for f in files]
        return [ProcessEnvSource(options)]

    run_scan(sources, opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("env", help="Scan environment variables (or --from-file FILE).")(scan_env)
