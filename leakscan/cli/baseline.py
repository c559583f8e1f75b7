"""``leakscan baseline create|update|import-gitleaksignore`` and ``leakscan rules import``.

``rules import`` lives here because the command module list is fixed; it is added to the
``rules`` sub-app by :func:`register`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from leakscan.cli import settings
from leakscan.cli.exits import fail
from leakscan.cli.options import (
    ConfigOpt,
    ExcludeOpt,
    MinConfidenceOpt,
    NoProgressOpt,
    Options,
    RulesOpt,
    ScanBinaryOpt,
    VerboseOpt,
    scan_options,
)
from leakscan.cli.run import setup_logging
from leakscan.errors import LeakscanError
from leakscan.policy.baseline import DEFAULT_NAME, Baseline, merge, parse_gitleaksignore
from leakscan.report.safe_text import terminal

baseline_app = typer.Typer(
    help="Accept the findings of today; fail only on new ones.", no_args_is_help=True
)

PathsArg = Annotated[list[str], typer.Argument(help="Files or directories to scan.")]
BaselineOutOpt = Annotated[Path, typer.Option("--output", "-o", help="The baseline file to write.")]


# what a baseline scan takes: like ``leakscan scan PATH``, without report options
SCAN_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("rules", RulesOpt, None),
    ("exclude", ExcludeOpt, None),
    ("min_confidence", MinConfidenceOpt, "low"),
    ("scan_binary", ScanBinaryOpt, False),
    ("config", ConfigOpt, None),
    ("no_progress", NoProgressOpt, True),
    ("verbose", VerboseOpt, 0),
)


def _scan_findings(paths: list[str], opts: Options) -> Baseline:
    """Scan like ``leakscan scan PATH`` (config file and inline allows apply)."""
    from leakscan.api import scan
    from leakscan.cli.scan_path import path_sources

    setup_logging(opts.verbose)
    try:
        settings.check(opts)
        # a baseline is made from every finding: none applies
        config = settings.scan_config(opts, settings.policy(opts, baseline=False))
        result = scan(lambda options: path_sources(paths, options), config)
    except LeakscanError as exc:
        fail(str(exc))
    if result.errors:
        for error in result.errors:
            typer.echo(f"leakscan: error: {terminal(error)}", err=True)
        fail("the scan did not complete; no baseline written")
    return Baseline.from_findings(result.findings)


@baseline_app.command("create")
@scan_options(SCAN_OPTIONS, report=False)
def create(paths: PathsArg, opts: Options, output: BaselineOutOpt = Path(DEFAULT_NAME)) -> None:
    """Scan PATHs and accept every finding into a baseline file (no secrets are stored)."""
    made = _scan_findings(paths, opts)
    _write(made, output)
    typer.echo(f"baseline {output}: {len(made.entries)} finding(s) accepted", err=True)


@baseline_app.command("update")
@scan_options(SCAN_OPTIONS, report=False)
def update(
    paths: PathsArg,
    opts: Options,
    output: BaselineOutOpt = Path(DEFAULT_NAME),
    keep_stale: Annotated[
        bool, typer.Option("--keep-stale", help="Keep entries no longer found.")
    ] = False,
) -> None:
    """Rescan PATHs: accept new findings, drop entries no longer found (unless --keep-stale)."""
    old = _load(output) if output.exists() else Baseline()
    current = _scan_findings(paths, opts)
    known = {e.fingerprint for e in old.entries}
    added = sum(1 for e in current.entries if e.fingerprint not in known)
    merged = merge(old, current, keep_stale)
    _write(merged, output)
    typer.echo(f"baseline {output}: {len(merged.entries)} entries ({added} new)", err=True)


@baseline_app.command("import-gitleaksignore")
def import_gitleaksignore(
    file: Annotated[Path, typer.Argument(help="A .gitleaksignore file.")],
    output: BaselineOutOpt = Path(DEFAULT_NAME),
) -> None:
    """Turn .gitleaksignore entries into baseline entries (matched by file, line and rule)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    try:
        imported = parse_gitleaksignore(text, str(file))
    except LeakscanError as exc:
        fail(str(exc))
    existing = _load(output) if output.exists() else Baseline()
    existing.entries.extend(imported.entries)
    _write(existing, output)
    typer.echo(f"baseline {output}: {len(imported.entries)} entries imported from {file}", err=True)


def _load(path: Path) -> Baseline:
    try:
        return Baseline.load(path)
    except LeakscanError as exc:
        fail(str(exc))


def _write(baseline: Baseline, path: Path) -> None:
    try:
        baseline.write(path)
    except LeakscanError as exc:
        fail(str(exc))


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")
    try:
        from leakscan.cli.rules import rules_app
    except ModuleNotFoundError:  # pragma: no cover
        return
    from leakscan.cli.rules_import import import_app

    rules_app.add_typer(import_app, name="import")
