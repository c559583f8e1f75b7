"""The command line: the only place that prints, exits and draws progress bars.

A ``scan git`` of a local repository begins its history walk here, before the rest of the
command line (typer, the engine, the rules) is imported: git works while Python imports
(:mod:`leakscan.cli.early`).
"""

from __future__ import annotations

import sys

from leakscan.cli import early

early.begin(sys.argv[1:])

from leakscan.cli.commands import app, main  # noqa: E402

__all__ = ["app", "main"]
