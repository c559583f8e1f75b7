"""The ``scan`` group: ``leakscan scan PATH`` and ``leakscan scan image|git|env|container``."""

from __future__ import annotations

import typer
from typer import _click as click
from typer.core import TyperGroup


class DefaultToPathGroup(TyperGroup):
    """A group whose first argument, when it is not a subcommand, is a path to scan."""

    default_command = "path"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        elif args and args[0].startswith("-") and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

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
