"""Watch state in SQLite: what was scanned (with which rules) and which findings were emitted.

Rows hold ids and fingerprints, never a secret. A unit (an image or a container) is recorded
in one transaction after its findings were written, so a watch killed at any point either
re-emits the last unit's findings on restart or has recorded them: it never loses one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from leakscan.paths import cache_dir
from leakscan.store.db import StoreError, connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_done (
  kind TEXT NOT NULL, id TEXT NOT NULL, rules_key TEXT NOT NULL,
  name TEXT, finished REAL NOT NULL,
  PRIMARY KEY (kind, id, rules_key)
);
CREATE TABLE IF NOT EXISTS watch_emitted (
  fingerprint TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, emitted REAL NOT NULL,
  PRIMARY KEY (fingerprint, kind, id)
);
"""


def default_state_path() -> Path:
    """``watch.sqlite`` in the user cache dir (``$LEAKSCAN_CACHE_DIR``, ``$XDG_CACHE_HOME``)."""
    return cache_dir() / "watch.sqlite"


class WatchState:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.conn = connect(path)
        self._clock = clock
        try:
            self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"watch state {path}: {exc}") from None

    def done(self, kind: str, target_id: str, rules_key: str) -> bool:
        """Whether this image or container was scanned whole with these rules."""
        row = self.conn.execute(
            "SELECT 1 FROM watch_done WHERE kind=? AND id=? AND rules_key=?",
            (kind, target_id, rules_key),
        ).fetchone()
        return row is not None

    def emitted(self, fingerprint: str, kind: str, target_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM watch_emitted WHERE fingerprint=? AND kind=? AND id=?",
            (fingerprint, kind, target_id),
        ).fetchone()
        return row is not None

    def record(
        self,
        kind: str,
        target_id: str,
        rules_key: str | None,
        name: str,
        fingerprints: Iterable[str],
    ) -> None:
        """The findings emitted for a unit and, with a ``rules_key``, the unit done (one
        transaction)."""
        now = self._clock()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR IGNORE INTO watch_emitted VALUES (?, ?, ?, ?)",
                [(fp, kind, target_id, now) for fp in fingerprints],
            )
            if rules_key is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO watch_done VALUES (?, ?, ?, ?, ?)",
                    (kind, target_id, rules_key, name, now),
                )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StoreError(f"watch state {self.path}: {exc}") from None

    def close(self) -> None:
        self.conn.close()
