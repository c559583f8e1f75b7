"""Where leakscan keeps its caches (compiled rules, parsed rule files)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$LEAKSCAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/leakscan``, else ``~/.cache/leakscan``."""
    base = os.environ.get("LEAKSCAN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "leakscan"
    )
    return Path(base)
