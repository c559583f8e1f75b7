"""Audit state: which (registry, repo, tag, manifest digest) are done, and what they hold.

A done tag keeps the images it resolved to (manifest digest, platform, layer digests), the
locations its scan placed (fingerprints, redacted values, provenance: never a secret) and its
skips, so a resumed audit reports it exactly as the scan did, without fetching it again.
Rows are keyed by a state key (rules, engine, options): another configuration starts afresh.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from leakscan.store.db import StoreError, rollback_quietly

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_tags_v2 (
  registry TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  state_key TEXT NOT NULL, finished REAL NOT NULL,
  images TEXT NOT NULL, locations TEXT NOT NULL, skips TEXT NOT NULL,
  PRIMARY KEY (registry, repo, tag, digest, state_key)
);
CREATE INDEX IF NOT EXISTS audit_tags_v2_digest ON audit_tags_v2 (registry, state_key, digest);
"""


BATCH = 50  # tags marked done per commit (a crash loses at most these: they are redone)


@dataclass(slots=True)
class DoneTag:
    images: list[dict[str, Any]] = field(default_factory=list)  # digest, platform, layers
    locations: list[list[Any]] = field(default_factory=list)  # see leakscan.audit.replay
    skips: list[list[str]] = field(default_factory=list)  # [where, reason]


class AuditState:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._pending = 0  # tags marked done, not yet committed
        self._since = 0.0
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None

    def done_keys(self, registry: str, key: str) -> set[tuple[str, str, str]]:
        """(repo, tag, digest) of every tag done with this configuration."""
        try:
            rows = self.conn.execute(
                "SELECT repo, tag, digest FROM audit_tags_v2 WHERE registry=? AND state_key=?",
                (registry, key),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None
        return {(r[0], r[1], r[2]) for r in rows}

    def done_in(self, registry: str, repo: str, key: str) -> dict[tuple[str, str], DoneTag]:
        """Every tag of ``repo`` done with this configuration, by (tag, digest): one read."""
        try:
            rows = self.conn.execute(
                "SELECT tag, digest, images, locations, skips FROM audit_tags_v2 "
                "WHERE registry=? AND state_key=? AND repo=?",
                (registry, key, repo),
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None
        return {(r[0], r[1]): _done(r[2:]) for r in rows}

    def twin(self, registry: str, digest: str, key: str) -> tuple[str, str, DoneTag] | None:
        """(repo, tag, what it held) of a tag done with this manifest digest, if any."""
        try:
            row = self.conn.execute(
                "SELECT repo, tag, images, locations, skips FROM audit_tags_v2 "
                "WHERE registry=? AND state_key=? AND digest=? LIMIT 1",
                (registry, key, digest),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None
        return None if row is None else (row[0], row[1], _done(row[2:]))

    def commit(self) -> None:
        """Write the tags marked done since the last commit."""
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise StoreError(f"audit state: {exc}") from None
        finally:
            self._pending = 0

    def done(self, registry: str, repo: str, tag: str, digest: str, key: str) -> DoneTag | None:
        """What a finished (tag, digest) held, or None when it is not done."""
        try:
            row = self.conn.execute(
                "SELECT images, locations, skips FROM audit_tags_v2 WHERE registry=? AND repo=? "
                "AND tag=? AND digest=? AND state_key=?",
                (registry, repo, tag, digest, key),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None
        return None if row is None else _done(row)

    def mark_done(
        self, registry: str, repo: str, tag: str, digest: str, key: str, done: DoneTag
    ) -> None:
        """Record a tag as done (committed in batches: every ``BATCH`` tags or second)."""
        try:
            if not self.conn.in_transaction:
                self.conn.execute("BEGIN")
                self._since = time.monotonic()
            self.conn.execute(
                "INSERT OR REPLACE INTO audit_tags_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    registry,
                    repo,
                    tag,
                    digest,
                    key,
                    time.time(),
                    json.dumps(done.images),
                    json.dumps(done.locations),
                    json.dumps(done.skips),
                ),
            )
        except sqlite3.Error as exc:
            rollback_quietly(self.conn)
            raise StoreError(f"audit state: {exc}") from None
        self._pending += 1
        if self._pending >= BATCH or time.monotonic() - self._since >= 1.0:
            self.commit()


def _done(row: Any) -> DoneTag:
    return DoneTag(json.loads(row[0]), json.loads(row[1]), json.loads(row[2]))
