"""``leakscan scan env``: environment variables (this process's, or from a file / stdin)."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.common import (
    BaselineOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    MaxFileSizeOpt,
    MinConfidenceOpt,
    NoProgressOpt,
    OutputOpt,
    RegexTimeoutOpt,
    RulesOpt,
    ShowSecretsOpt,
    VerboseOpt,
    options_from,
    run_scan,
)
from leakscan.sources.env import EnvFileSource, ProcessEnvSource
from leakscan.sources.interface import Source, SourceOptions


def scan_env(
    from_file: Annotated[
        list[str] | None,
        typer.Option("--from-file", help="KEY=VALUE or dotenv file to read instead; - for stdin."),
    ] = None,
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
    max_file_size: MaxFileSizeOpt = None,
    regex_timeout: RegexTimeoutOpt = None,
) -> None:
    """Scan environment variables: names and (redacted) values."""
    files = list(from_file or [])
    opts = options_from(**{k: v for k, v in locals().items() if k not in ("from_file", "files")})

    def sources(options: SourceOptions) -> list[Source]:
        if files:
            return [EnvFileSource(f, options) for f in files]
        return [ProcessEnvSource(options)]

    run_scan(sources, opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("env", help="Scan environment variables (or --from-file FILE).")(scan_env)
