"""The ``scan`` group: ``leakscan scan PATH`` and ``leakscan scan image|git|env|container``."""

from __future__ import annotations

from collections.abc import Container, Sequence

import typer
from typer import _click as click
from typer.core import TyperGroup

DEFAULT_COMMAND = "path"
HELP = ("--help", "-h")


def routed(args: Sequence[str], commands: Container[str]) -> list[str]:
    """The ``scan`` group's arguments as it reads them: a first word that is neither one of
    ``commands`` nor a help option (a path, an option) goes to ``scan path``."""
    if args and args[0] not in commands and args[0] not in HELP:
        return [DEFAULT_COMMAND, *args]
    return list(args)


class DefaultToPathGroup(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is a path to scan."""

    default_command = DEFAULT_COMMAND

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, routed(args, self.commands))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the options of a path scan (what ``scan PATH`` takes)."""
        super().format_help(ctx, formatter)
        path = self.commands.get(self.default_command)
        if path is None:
            return
        sub = path.make_context(self.default_command, [], parent=ctx, resilient_parsing=True)
        path.format_help(sub, formatter)


def new_scan_app() -> typer.Typer:
    """The ``scan`` group, without commands (the command modules add them)."""
    return typer.Typer(
        cls=DefaultToPathGroup,
        help="Scan files, directories, images, git history, env. "
        "`leakscan scan PATH` scans a path.",
        no_args_is_help=True,
    )
