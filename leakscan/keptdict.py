"""A dict kept in one file of the cache folder from run to run.

The compiled-code caches (``regexcache``: the programs ``regex`` makes; ``codecache``: the
methods ``dataclasses`` writes) each keep one: the file is read when first asked for, what a
run adds is merged into it at exit (written aside, then renamed: runs at the same time do
not break it). A missing, damaged or foreign file reads as empty; a cache folder that
cannot be written means compiling again next time. Imports nothing of leakscan but its
cache folder.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from leakscan.paths import write_atomic

K = TypeVar("K")
V = TypeVar("V")


class KeptDict(Generic[K, V]):
    """Entries read from ``file()`` (``loads``), those a run adds written back (``dumps``) at
    exit; over ``limit`` entries the file starts afresh with the run's own."""

    def __init__(
        self,
        file: Callable[[], Path],
        dumps: Callable[[dict[K, V]], bytes],
        loads: Callable[[bytes], Any],
        limit: int | None = None,
    ) -> None:
        self.file = file
        self._dumps = dumps
        self._loads = loads
        self._limit = limit
        self._lock = threading.Lock()
        self._entries: dict[K, V] | None = None
        self.added: dict[K, V] = {}  # this run's, for the file

    def entries(self) -> dict[K, V]:
        """The file's entries (read on the first call) and this run's."""
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def get(self, key: K) -> V | None:
        return self.entries().get(key)

    def add(self, key: K, value: V) -> None:
        with self._lock:
            if not self.added:
                atexit.register(self.save)
            self.added[key] = value
            self.entries()[key] = value

    def save(self) -> None:
        """This run's entries merged into the file."""
        with self._lock:
            added = dict(self.added)
        if not added:
            return
        merged = {**self._read(), **added}
        if self._limit is not None and len(merged) > self._limit:
            merged = added  # entries made on the fly, each its own: start afresh
        try:
            write_atomic(self.file(), self._dumps(merged))
        except Exception:  # a read-only cache folder: compiled again next time
            pass

    def forget(self) -> None:
        """As at the start of a run: nothing read, nothing added."""
        self._entries, self.added = None, {}

    def _read(self) -> dict[K, V]:
        try:
            loaded = self._loads(self.file().read_bytes())
        except Exception:  # missing, damaged or foreign: start afresh
            return {}
        return loaded if isinstance(loaded, dict) else {}
