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


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` aside and rename it to ``path``: a concurrent run never reads a
    half-written file. ``OSError`` (a read-only cache folder) is the caller's to forgive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
