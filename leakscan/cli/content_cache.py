"""Where the content cache lives: ``$LEAKSCAN_CONTENT_CACHE`` (a file, or ``off``), else
``content.sqlite`` in leakscan's cache folder. Read here: only the CLI reads the environment."""

from __future__ import annotations

import os
from pathlib import Path

from leakscan.api import ScanConfig, cache_key
from leakscan.paths import cache_dir
from leakscan.store.content_cache import ContentCache

OFF = ("off", "0", "no", "false", "none")


def cache_path(flag: Path | None = None) -> Path | None:
    """The content cache file (``None``: turned off)."""
    if flag is not None:
        return flag
    text = os.environ.get("LEAKSCAN_CONTENT_CACHE", "").strip()
    if text.lower() in OFF:
        return None
    return Path(text) if text else cache_dir() / "content.sqlite"


def open_cache(config: ScanConfig, flag: Path | None = None) -> ContentCache | None:
    """The content cache for this configuration (``None``: turned off)."""
    path = cache_path(flag)
    if path is None:
        return None
    return ContentCache.open(path, cache_key(config, config.policy.cache_text()))
