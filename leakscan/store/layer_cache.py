"""Layer cache: what a layer holds and what it matched, keyed by (layer digest, rules digest).

Per layer: its entries (path, kind, content digest) — enough to rebuild whiteout state — and
its matches as (path, rule id, fingerprint, redacted value, line, column, ...). Never a secret
in clear.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from leakscan.store.db import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS layers_v2 (
  layer_digest TEXT NOT NULL,
  rules_digest TEXT NOT NULL,
  size INTEGER,
  entries TEXT NOT NULL,   -- JSON [[path, kind, content digest or null], ...]
  skipped TEXT NOT NULL,   -- JSON [[where, reason], ...]
  PRIMARY KEY (layer_digest, rules_digest)
);
CREATE TABLE IF NOT EXISTS layer_matches_v2 (
  layer_digest TEXT NOT NULL,
  rules_digest TEXT NOT NULL,
  path TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  redacted TEXT NOT NULL,
  line INTEGER,
  col INTEGER,
  severity TEXT NOT NULL,
  confidence TEXT NOT NULL,
  decoded TEXT NOT NULL,
  secret_digest TEXT,      -- digests of the value and of its base64 form (never the value)
  encoded_digest TEXT
);
CREATE INDEX IF NOT EXISTS layer_matches_v2_key ON layer_matches_v2 (layer_digest, rules_digest);
"""


@dataclass(frozen=True, slots=True)
class CachedMatch:
    path: str
    rule_id: str
    fingerprint: str
    redacted: str
    line: int | None
    column: int | None
    severity: str
    confidence: str
    decoded: tuple[str, ...] = ()
    secret_digest: str | None = None
    encoded_digest: str | None = None


@dataclass(frozen=True, slots=True)
class CachedLayer:
    entries: list[tuple[str, str, str | None]]
    matches: list[CachedMatch]
    skipped: list[tuple[str, str]]


class LayerCache:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"layer cache: {exc}") from None

    def get(self, layer_digest: str, rules_digest: str) -> CachedLayer | None:
        row = self.conn.execute(
            "SELECT entries, skipped FROM layers_v2 WHERE layer_digest=? AND rules_digest=?",
            (layer_digest, rules_digest),
        ).fetchone()
        if row is None:
            return None
        rows = self.conn.execute(
            "SELECT path, rule_id, fingerprint, redacted, line, col, severity, confidence, "
            "decoded, secret_digest, encoded_digest FROM layer_matches_v2 "
            "WHERE layer_digest=? AND rules_digest=? ORDER BY rowid",
            (layer_digest, rules_digest),
        ).fetchall()
        matches = [
            CachedMatch(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], tuple(json.loads(r[8])), r[9], r[10]
            )
            for r in rows
        ]
        entries = [(e[0], e[1], e[2]) for e in json.loads(row[0])]
        skipped = [(s[0], s[1]) for s in json.loads(row[1])]
        return CachedLayer(entries, matches, skipped)

    def has(self, layer_digest: str, rules_digest: str) -> bool:
        return (
            self.conn.execute(
                "SELECT 1 FROM layers_v2 WHERE layer_digest=? AND rules_digest=?",
                (layer_digest, rules_digest),
            ).fetchone()
            is not None
        )

    def put(
        self, layer_digest: str, rules_digest: str, size: int | None, layer: CachedLayer
    ) -> None:
        """Store a scanned layer (one transaction: a layer is cached whole or not at all)."""
        try:
            self.conn.execute("BEGIN")
            self.conn.execute(
                "DELETE FROM layer_matches_v2 WHERE layer_digest=? AND rules_digest=?",
                (layer_digest, rules_digest),
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO layers_v2 VALUES (?, ?, ?, ?, ?)",
                (
                    layer_digest,
                    rules_digest,
                    size,
                    json.dumps(layer.entries),
                    json.dumps(layer.skipped),
                ),
            )
            self.conn.executemany(
                "INSERT INTO layer_matches_v2 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        layer_digest,
                        rules_digest,
                        m.path,
                        m.rule_id,
                        m.fingerprint,
                        m.redacted,
                        m.line,
                        m.column,
                        m.severity,
                        m.confidence,
                        json.dumps(list(m.decoded)),
                        m.secret_digest,
                        m.encoded_digest,
                    )
                    for m in layer.matches
                ],
            )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:  # SQLITE_FULL and others roll back by themselves
                self.conn.execute("ROLLBACK")
            raise StoreError(f"layer cache: {exc}") from None
