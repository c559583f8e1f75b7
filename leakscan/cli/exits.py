"""How the command line gives up: one line on standard error, exit 2."""

from __future__ import annotations

from typing import NoReturn

import typer

from leakscan.errors import ExitCode
from leakscan.report.safe_text import terminal
from leakscan.userinfo import hide_userinfo


def fail(message: str, verbose: int = 0) -> NoReturn:
    """One line on stderr (a URL's user:password hidden) and exit 2."""
    typer.echo(f"leakscan: error: {terminal(hide_userinfo(message))}", err=True)
    raise typer.Exit(int(ExitCode.ERROR))
