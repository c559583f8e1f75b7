"""Parsed rule and placeholder files kept in the cache folder, keyed by path and content.

Parsing a YAML file and validating it (compiling every pattern) costs more than the scan of
a small target; a file whose content did not change is read back from its pickle instead.
A damaged or foreign cache entry is parsed again; a read-only cache folder is fine.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from leakscan.paths import cache_dir, write_atomic

T = TypeVar("T")


def load(
    file: Path,
    content: bytes,
    version: bytes,
    parse: Callable[[Path], T],
    accept: Callable[[object], bool],
) -> T:
    """What ``parse(file)`` gives for this ``content``, from the cache when it holds a value
    that ``accept`` takes (``version`` names the format of what is kept)."""
    key = hashlib.sha256(version + str(file).encode() + b"\0" + content).hexdigest()
    cached = cache_dir() / "rules" / f"{key[:40]}.pickle"
    try:
        loaded = pickle.loads(cached.read_bytes())
        if accept(loaded):
            return loaded  # type: ignore[no-any-return]
    except (OSError, pickle.PickleError, EOFError, AttributeError, TypeError, ValueError):
        pass
    parsed = parse(file)
    try:
        write_atomic(cached, pickle.dumps(parsed))
    except OSError:
        pass  # a read-only cache is fine: we validate every time
    return parsed
