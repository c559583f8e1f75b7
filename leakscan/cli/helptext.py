"""Help screens as a person reads them: ``--format FORMAT``, ``--show-secrets``, ``PATHS...``,
not typer's type tags (``<bool>``, ``<list[str]>``, ``{paths}...``).

Typer (0.2x) prints each parameter's Python type in the help. This module replaces the two
methods that make those labels, once, at import: a flag shows nothing, an option its metavar
or a click-style word (TEXT, INTEGER, PATH), an argument its name in capitals.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from typer import core

_WORDS = {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH", bool: ""}


def _word(annotation: Any) -> str:
    if typing.get_origin(annotation) in (list, tuple):
        args = typing.get_args(annotation)
        return _word(args[0]) if args else "TEXT"
    return _WORDS.get(annotation, "TEXT")


def _option_type(self: Any, ctx: Any) -> str | None:
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    if self.metavar is not None:
        return str(self.metavar)
    try:
        annotation = self.type_descriptor.annotation
    except AttributeError:  # another typer: its own words
        return None
    if getattr(self.type_descriptor, "is_choice", False):
        return "[" + "|".join(str(c) for c in self.type_descriptor.choices or ()) + "]"
    return _word(annotation) or None


def _argument_type(self: Any, ctx: Any) -> str | None:
    return None  # the name column says it


def _argument_usage(self: Any) -> str:
    name = str(self.metavar or self.name or "ARG").upper()
    if self.nargs != 1:
        name += "..."
    return name if self.required else f"[{name}]"


def _argument_name(self: Any) -> str:
    name = str(self.metavar or self.name or "ARG").upper()
    return name + ("..." if self.nargs != 1 else "")


def install() -> None:
    """Replace the type labels in help screens (once; a typer without them is left alone)."""
    option, argument = getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)
    if option is not None and hasattr(option, "display_type_rich"):
        option.display_type_rich = _option_type
    if argument is not None and hasattr(argument, "display_type_rich"):
        argument.display_type_rich = _argument_type
        if hasattr(argument, "_usage_display_name"):
            argument._usage_display_name = _argument_usage
        if hasattr(argument, "_rich_display_name"):
            argument._rich_display_name = _argument_name
