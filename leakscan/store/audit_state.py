"""Audit state: which (registry, repo, tag, manifest digest) are done, and what they hold.

An image row keeps its layer digests and its configuration matches (fingerprints and redacted
values only), so a resumed audit reports images done earlier without fetching them again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from leakscan.store.db import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_done (
  registry TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  rules_digest TEXT NOT NULL, finished REAL NOT NULL,
  PRIMARY KEY (registry, repo, tag, digest, rules_digest)
);
CREATE TABLE IF NOT EXISTS audit_images (
  registry TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  rules_digest TEXT NOT NULL,
  image_digest TEXT NOT NULL, platform TEXT, layers TEXT NOT NULL, config_matches TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_images_key ON audit_images (registry, repo, tag, digest);
"""


@dataclass(frozen=True, slots=True)
class DoneImage:
    image_digest: str
    platform: str | None
    layers: list[dict[str, Any]]  # [{"digest", "size", "created_by"}]
    config_matches: list[dict[str, Any]]  # [{"field", "rule_id", "fingerprint", ...}]


class AuditState:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"audit state: {exc}") from None

    def done(
        self, registry: str, repo: str, tag: str, digest: str, rules_digest: str
    ) -> list[DoneImage] | None:
        """The images of a finished (tag, digest), or None when it is not done."""
        key = (registry, repo, tag, digest, rules_digest)
        row = self.conn.execute(
            "SELECT 1 FROM audit_done WHERE registry=? AND repo=? AND tag=? AND digest=? "
            "AND rules_digest=?",
            key,
        ).fetchone()
        if row is None:
            return None
        rows = self.conn.execute(
            "SELECT image_digest, platform, layers, config_matches FROM audit_images WHERE "
            "registry=? AND repo=? AND tag=? AND digest=? AND rules_digest=? ORDER BY rowid",
            key,
        ).fetchall()
        return [DoneImage(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    def mark_done(
        self,
        registry: str,
        repo: str,
        tag: str,
        digest: str,
        rules_digest: str,
        images: list[DoneImage],
    ) -> None:
        key = (registry, repo, tag, digest, rules_digest)
        try:
            self.conn.execute("BEGIN")
            self.conn.execute(
                "DELETE FROM audit_images WHERE registry=? AND repo=? AND tag=? AND digest=? "
                "AND rules_digest=?",
                key,
            )
            self.conn.executemany(
                "INSERT INTO audit_images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        *key,
                        i.image_digest,
                        i.platform,
                        json.dumps(i.layers),
                        json.dumps(i.config_matches),
                    )
                    for i in images
                ],
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO audit_done VALUES (?, ?, ?, ?, ?, ?)", (*key, time.time())
            )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:  # SQLITE_FULL and others roll back by themselves
                self.conn.execute("ROLLBACK")
            raise StoreError(f"audit state: {exc}") from None
