"""``leakscan scan PATH…``: files, directories, ``-`` for stdin."""

from __future__ import annotations

from typing import Annotated

import typer

from leakscan.cli.common import (
    BaselineOpt,
    ConfigOpt,
    ExcludeOpt,
    FailOnOpt,
    FormatOpt,
    JobsOpt,
    MaxArchiveDepthOpt,
    MaxFileSizeOpt,
    MaxLayerSizeOpt,
    MaxRatioOpt,
    MinConfidenceOpt,
    NoProgressOpt,
    OutputOpt,
    RegexTimeoutOpt,
    RulesOpt,
    ScanBinaryOpt,
    ShowSecretsOpt,
    VerboseOpt,
    options_from,
    run_scan,
)
from leakscan.sources.interface import Source, SourceOptions


def path_sources(paths: list[str], options: SourceOptions) -> list[Source]:
    """Sources for paths: manifests are recognised by the manifest source when present."""
    try:
        from leakscan.sources.manifests import manifest_aware_source
    except ImportError:  # manifests support not installed in this tree
        from leakscan.sources.filesystem import FilesystemSource

        return [FilesystemSource(p, options) for p in paths]
    return [manifest_aware_source(p, options) for p in paths]


def scan_path(
    paths: Annotated[list[str], typer.Argument(help="Files or directories; - for stdin.")],
    format: FormatOpt = "table",
    output: OutputOpt = None,
    show_secrets: ShowSecretsOpt = False,
    no_progress: NoProgressOpt = False,
    verbose: VerboseOpt = 0,
    min_confidence: MinConfidenceOpt = "low",
    rules: RulesOpt = None,
    exclude: ExcludeOpt = None,
    scan_binary: ScanBinaryOpt = False,
    baseline: BaselineOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
    max_file_size: MaxFileSizeOpt = None,
    max_layer_size: MaxLayerSizeOpt = None,
    max_ratio: MaxRatioOpt = None,
    max_archive_depth: MaxArchiveDepthOpt = None,
    regex_timeout: RegexTimeoutOpt = None,
    no_foreign_allow: Annotated[
        bool,
        typer.Option("--no-foreign-allow",
                     help="Honour only leakscan:allow, not gitleaks:allow and the like."),
    ] = False,
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Treat files as: k8s, compose, dockerfile, dotenv, helm."),
    ] = None,
) -> None:
    """Scan files and directories (manifests and nested archives included)."""
    opts = options_from(**{k: v for k, v in locals().items() if k != "paths"})
    run_scan(lambda options: path_sources(paths, options), opts)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    scan_app.command("path", help="Scan files and directories (the default).")(scan_path)
