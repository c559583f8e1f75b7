"""One SQLite file holds the layer cache and the audit state (``--state PATH``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from leakscan.errors import LeakscanError


class StoreError(LeakscanError):
    """The state file cannot be opened or written."""


def default_state_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leakscan" / "audit.sqlite"


def connect(path: Path | str) -> sqlite3.Connection:
    try:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open state file {path}: {exc}") from None
    return conn


def rollback_quietly(conn: sqlite3.Connection) -> None:
    """Undo an open transaction after a failed write; a rollback that fails too is moot."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
