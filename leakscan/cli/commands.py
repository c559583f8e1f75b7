"""The ``leakscan`` command: its typer application and the modules that add its commands."""

from __future__ import annotations

import gc
import importlib

import typer

from leakscan.cli import coercion, early, helptext
from leakscan.cli.scan import scan_app

helptext.install()  # help without typer's type tags
coercion.install()  # values converted without pydantic where nothing can go wrong

app = typer.Typer(
    name="leakscan",
    help="Find hard-coded credentials in images, registries, manifests, env and git history.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(scan_app, name="scan")

# each command module defines register(app, scan_app); modules not written yet are skipped
_COMMAND_MODULES = (
    "scan_path",
    "scan_image",
    "scan_container",
    "scan_git",
    "scan_env",
    "rules",
    "audit",
    "baseline",
    "config",
    "watch",
)
for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"leakscan.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"leakscan.cli.{_name}":
            raise
        continue
    _module.register(app, scan_app)


def _print_version(value: bool) -> None:
    if value:
        from leakscan import __version__

        typer.echo(f"leakscan {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        is_eager=True,
        callback=_print_version,
    ),
) -> None:
    """Find hard-coded credentials in images, registries, manifests, env and git history."""


def main() -> None:
    # A scan allocates many small objects that live to the end of the run (locations,
    # findings): the cyclic collector's frequent young-generation passes find nothing to
    # free. Objects made at import are frozen out of its passes, and passes are rarer.
    gc.freeze()
    gc.set_threshold(*early.GC_THRESHOLDS)
    app()
