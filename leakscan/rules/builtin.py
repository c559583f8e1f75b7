"""Where the rules shipped with leakscan are (the source tree, or the installed data files)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["BUILTIN_DIR", "builtin_dir"]

#: the rules shipped with leakscan, in a source tree
BUILTIN_DIR = Path(__file__).resolve().parent.parent.parent / "patterns"


def builtin_dir() -> Path:
    """Where the shipped rules are (the source tree, or the installed data files)."""
    if BUILTIN_DIR.is_dir():
        return BUILTIN_DIR
    installed = Path(sys.prefix) / "share" / "leakscan" / "patterns"
    return installed if installed.is_dir() else BUILTIN_DIR
