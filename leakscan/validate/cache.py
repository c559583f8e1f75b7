"""Validation results by fingerprint, in the cache dir: status, identity and time only.

The key is a digest of (provider, base URL, fingerprints): never the secret. Only definite
answers (valid, invalid) are kept, each for ``ttl`` seconds; an error is asked again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600.0
CACHED_STATUSES = ("valid", "invalid")


def cache_key(provider: str, base: str, fingerprints: tuple[str, ...]) -> str:
    text = "\x00".join((provider, base, *fingerprints))
    return hashlib.sha256(text.encode()).hexdigest()


class ValidationCache:
    def __init__(self, path: Path, ttl: float, now: Callable[[], datetime]) -> None:
        self.path = path
        self.ttl = ttl
        self._now = now
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries = data.get("entries") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if not isinstance(entry, dict) or entry.get("status") not in CACHED_STATUSES:
            return None
        try:
            checked = datetime.fromisoformat(str(entry["checked_at"]))
        except (KeyError, ValueError):
            return None
        age = (self._now() - checked).total_seconds()
        return entry if 0 <= age <= self.ttl else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        if entry.get("status") not in CACHED_STATUSES:
            return
        allowed = ("status", "identity", "checked_at", "provider", "detail")
        with self._lock:
            self._entries[key] = {k: entry.get(k) for k in allowed}
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        now = self._now()
        keep = {
            k: v
            for k, v in self._entries.items()
            if _age(now, v) is not None and _age(now, v) <= self.ttl  # type: ignore[operator]
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".validation-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "entries": keep}, out)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot write the validation cache %s: %s", self.path, exc.strerror)
        self._dirty = False


def _age(now: datetime, entry: Any) -> float | None:
    try:
        return (now - datetime.fromisoformat(str(entry["checked_at"]))).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None
