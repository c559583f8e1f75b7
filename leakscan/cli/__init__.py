"""The command line: the only place that prints, exits and draws progress bars.

Importing this package imports nothing else: :func:`main` first lets a ``scan git`` of a local
repository begin its history walk (:mod:`leakscan.cli.early`), so that git works while Python
imports typer, the engine and the rules (:mod:`leakscan.cli.commands`); ``app`` is imported
when asked for.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakscan.cli.commands import app

__all__ = ["app", "main"]


def main() -> None:
    """The ``leakscan`` program."""
    from leakscan import codecache

    codecache.install()  # before the imports that create dataclasses
    from leakscan.cli import early

    early.begin(sys.argv[1:])
    from leakscan.cli.commands import main as run

    run()


def __getattr__(name: str) -> Any:
    if name == "app":
        from leakscan.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
