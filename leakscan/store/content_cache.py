"""The content cache every image scan consults: layers and file contents scanned before.

Two tables, both keyed by a *cache key* (rules digest, engine version, the options that
change what a scan finds):

- ``cc_layers``: one row per layer (by its diff id, else its digest) scanned whole: what the
  image source needs to place its files without reading it (whiteout index, package records,
  every file's path and content digest), as an opaque blob the source encodes;
- ``cc_contents``: one row per file content (by sha256) scanned: its matches as fingerprint,
  redacted value and position, never the secret.

A layer is reused only when its record and the rows of all its contents are there. Entries of
a key unused for 30 days (rules since changed, another engine) are deleted on open. Writes are
queued and committed by :meth:`ContentCache.flush` (the scanner calls it once its matches are
in), contents before layers. The cache never fails a scan: an unusable file is reported once
and the scan goes on without it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from leakscan.store.db import StoreError, connect, rollback_quietly

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cc_layers (
  layer TEXT NOT NULL, cache_key TEXT NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (layer, cache_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cc_contents (
  digest TEXT NOT NULL, cache_key TEXT NOT NULL, matches TEXT NOT NULL,
  PRIMARY KEY (digest, cache_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cc_keys (cache_key TEXT PRIMARY KEY, used REAL NOT NULL);
"""

#: the contents of this key are looked up in memory first (a first scan's lookups all miss:
#: one SELECT each was ~0.35 s of a 973 MB image) when it holds no more than this many
INDEX_LIMIT = 250_000

#: entries of a cache key (older rules, another engine, other options) not used for this long
#: are deleted when the cache is opened
STALE_SECONDS = 30 * 86400


@dataclass(frozen=True, slots=True)
class StoredMatch:
    """A match as the cache keeps it (no secret in clear)."""

    rule_id: str
    fingerprint: str
    redacted: str
    line: int
    column: int
    severity: str
    confidence: str
    decoded: tuple[str, ...] = ()
    secret_digest: str | None = None
    encoded_digest: str | None = None

    def to_row(self) -> list[object]:
        return [
            self.rule_id,
            self.fingerprint,
            self.redacted,
            self.line,
            self.column,
            self.severity,
            self.confidence,
            list(self.decoded),
            self.secret_digest,
            self.encoded_digest,
        ]

    @classmethod
    def from_row(cls, row: list[object]) -> StoredMatch:
        r = row
        return cls(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            int(r[3]),  # type: ignore[call-overload]
            int(r[4]),  # type: ignore[call-overload]
            str(r[5]),
            str(r[6]),
            tuple(str(d) for d in r[7]),  # type: ignore[attr-defined]
            None if r[8] is None else str(r[8]),
            None if r[9] is None else str(r[9]),
        )


class ContentCache:
    """Layers and contents scanned before, under one cache key."""

    def __init__(
        self, conn: sqlite3.Connection | None, cache_key: str, now: float | None = None
    ) -> None:
        self.conn = conn
        self.key = cache_key
        self._contents: dict[str, list[StoredMatch] | None] = {}  # read or written this run
        self._queued_contents: dict[str, list[StoredMatch]] = {}
        self._queued_layers: dict[str, bytes] = {}
        # the stored contents of this key, read at the first lookup: digest (as bytes) ->
        # stored with no match (most files of a layer reused: answered without a query);
        # None: too many to hold, each looked up by itself
        self._index: dict[bytes, bool] | None = None
        self._indexed = False
        self.failed = False
        if conn is not None:
            try:
                conn.executescript(_SCHEMA)
                self._prune(time.time() if now is None else now)
            except sqlite3.Error as exc:
                self._trouble(exc)

    def _prune(self, now: float) -> None:
        """Note this key as used; delete the entries of keys unused for STALE_SECONDS."""
        assert self.conn is not None
        conn = self.conn
        conn.execute("INSERT OR REPLACE INTO cc_keys VALUES (?, ?)", (self.key, now))
        stale = [
            r[0]
            for r in conn.execute(
                "SELECT cache_key FROM cc_keys WHERE used < ?", (now - STALE_SECONDS,)
            )
        ]
        for key in stale:
            conn.execute("BEGIN")
            conn.execute("DELETE FROM cc_layers WHERE cache_key=?", (key,))
            conn.execute("DELETE FROM cc_contents WHERE cache_key=?", (key,))
            conn.execute("DELETE FROM cc_keys WHERE cache_key=?", (key,))
            conn.execute("COMMIT")

    @classmethod
    def open(cls, path: Path, cache_key: str, now: float | None = None) -> ContentCache:
        """The cache file at ``path`` (a cache that cannot be opened: an empty one)."""
        try:
            conn = connect(path)
        except StoreError as exc:
            log.warning("content cache: %s (images are scanned without it)", exc)
            return cls(None, cache_key)
        return cls(conn, cache_key, now)

    def _trouble(self, exc: Exception) -> None:
        if not self.failed:
            log.warning("content cache: %s (images are scanned without it)", exc)
        self.failed = True

    # -- file contents -----------------------------------------------------------------------

    def matches(self, digest: str) -> list[StoredMatch] | None:
        """The stored matches of a content (``None``: not in the cache)."""
        if digest in self._contents:
            return self._contents[digest]
        found: list[StoredMatch] | None = None
        if self.conn is not None and not self.failed:
            index = self._read_index()
            clean = None if index is None else index.get(_whole(digest))
            if clean:
                found = []
            elif index is None or clean is not None:  # stored with matches, or not indexed
                found = self._stored(digest)
        if found is not None or len(self._contents) < 1_000_000:
            self._contents[digest] = found
        return found

    def _stored(self, digest: str) -> list[StoredMatch] | None:
        """The matches stored for a content, read by themselves (``None``: none stored)."""
        assert self.conn is not None
        try:
            row = self.conn.execute(
                "SELECT matches FROM cc_contents WHERE digest=? AND cache_key=?",
                (digest, self.key),
            ).fetchone()
        except sqlite3.Error as exc:
            self._trouble(exc)
            return None
        if row is None:
            return None
        return [StoredMatch.from_row(r) for r in json.loads(row[0])]

    def _read_index(self) -> dict[bytes, bool] | None:
        """The key's stored contents (read once): digest -> stored with no match; None when
        there are too many to hold."""
        if not self._indexed:
            self._indexed = True
            assert self.conn is not None
            try:
                rows = self.conn.execute(
                    "SELECT digest, matches = '[]' FROM cc_contents WHERE cache_key=? LIMIT ?",
                    (self.key, INDEX_LIMIT + 1),
                ).fetchall()
            except sqlite3.Error as exc:
                self._trouble(exc)
                rows = []
            if len(rows) <= INDEX_LIMIT:
                self._index = {_whole(str(d)): bool(clean) for d, clean in rows}
        return self._index

    def known(self, digest: str) -> bool:
        return self.matches(digest) is not None

    def save(self, digest: str, matches: list[StoredMatch]) -> None:
        """Queue a content's matches (written by :meth:`flush`)."""
        self._contents[digest] = matches
        self._queued_contents[digest] = matches

    # -- layers ------------------------------------------------------------------------------

    def get_layer(self, layer: str) -> bytes | None:
        if layer in self._queued_layers:
            return self._queued_layers[layer]
        if self.conn is None or self.failed:
            return None
        try:
            row = self.conn.execute(
                "SELECT record FROM cc_layers WHERE layer=? AND cache_key=?", (layer, self.key)
            ).fetchone()
        except sqlite3.Error as exc:
            self._trouble(exc)
            return None
        return None if row is None else bytes(row[0])

    def put_layer(self, layer: str, record: bytes) -> None:
        """Queue a layer's record (written by :meth:`flush`, after the contents)."""
        self._queued_layers[layer] = record

    def flush(self) -> None:
        """Write what was queued: the contents, then the layers (one transaction)."""
        contents, layers = self._queued_contents, self._queued_layers
        self._queued_contents, self._queued_layers = {}, {}
        if self.conn is None or self.failed or not (contents or layers):
            return
        try:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO cc_contents VALUES (?, ?, ?)",
                [
                    (d, self.key, json.dumps([m.to_row() for m in ms]) if ms else "[]")
                    for d, ms in contents.items()
                ],
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO cc_layers VALUES (?, ?, ?)",
                [(name, self.key, rec) for name, rec in layers.items()],
            )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback_quietly(self.conn)
            self._trouble(exc)

    def close(self) -> None:
        self.flush()
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _whole(digest: str) -> bytes:
    """A content digest (``sha256:<hex>``) as the bytes a set of many holds in less memory."""
    try:
        return bytes.fromhex(digest[7:])
    except ValueError:  # not a digest this cache writes: never taken for a clean one
        return digest.encode()
