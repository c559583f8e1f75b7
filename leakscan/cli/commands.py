"""The ``leakscan`` command: its typer application and the modules that add its commands.

A scan builds only the command it runs: importing every command module and building all
their typer commands (~25 ms) is a good part of a small scan's start-up. :func:`main` picks
the modules by the command line's first words (:func:`modules_for`): ``scan`` followed by a
subcommand's name, or by anything ``scan`` sends to ``scan path`` (a path, an option), builds
that one command; any other command line (``--help`` of a group, another command, a typo)
builds them all, as ``app`` is (built when asked for). A subcommand's help and errors are the
same either way: they never name its siblings.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer

from leakscan.cli import coercion, early, helptext
from leakscan.cli.scan import HELP, new_scan_app, routed

helptext.install()  # help without typer's type tags
coercion.install()  # values converted without pydantic where nothing can go wrong

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
#: ``scan`` subcommand -> the module that adds it (``tests/cli/test_commands.py`` keeps it
#: equal to what the modules register)
SCAN_COMMANDS = {
    "path": "scan_path",
    "image": "scan_image",
    "container": "scan_container",
    "git": "scan_git",
    "env": "scan_env",
}


def modules_for(args: Sequence[str]) -> tuple[str, ...]:
    """The command modules a command line needs: one for a ``scan`` that runs a command (as
    the ``scan`` group routes it: :func:`~leakscan.cli.scan.routed`), all for anything else."""
    if list(args[:1]) != ["scan"]:
        return _COMMAND_MODULES
    words = routed(args[1:], SCAN_COMMANDS)
    if not words or words[0] in HELP:
        return _COMMAND_MODULES
    return (SCAN_COMMANDS[words[0]],)


def build(modules: Sequence[str] = _COMMAND_MODULES) -> typer.Typer:
    """The application with the commands of ``modules``."""
    app = typer.Typer(
        name="leakscan",
        help="Find hard-coded credentials in images, registries, manifests, env and git history.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    scan_app = new_scan_app()
    app.add_typer(scan_app, name="scan")
    app.callback()(_root)
    for name in modules:
        try:
            module = importlib.import_module(f"leakscan.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"leakscan.cli.{name}":
                raise
            continue
        module.register(app, scan_app)
    return app


def _print_version(value: bool) -> None:
    if value:
        from leakscan import __version__

        typer.echo(f"leakscan {__version__}")
        raise typer.Exit(0)


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
    app = build(modules_for(sys.argv[1:]))
    gc.freeze()
    gc.set_threshold(*early.GC_THRESHOLDS)
    app()


def __getattr__(name: str) -> Any:
    if name == "app":  # every command (built once, when asked for)
        app = globals()["app"] = build()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
