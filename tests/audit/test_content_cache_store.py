"""The content cache file: entries under one key, stale keys dropped, never a failed scan."""

from __future__ import annotations

from pathlib import Path

from leakscan.store.content_cache import STALE_SECONDS, ContentCache, StoredMatch

MATCH = StoredMatch("r.x", "f" * 64, "ghp_…abcd", 3, 5, "high", "high", ("base64",), "d1", "d2")


def test_entries_kept_by_key_and_stale_keys_dropped(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    old = ContentCache.open(path, "old-rules", now=1000.0)
    old.save("sha256:aa", [MATCH])
    old.put_layer("sha256:l1", b"record")
    old.close()
    fresh = ContentCache.open(path, "new-rules", now=2000.0)
    assert fresh.matches("sha256:aa") is None and fresh.get_layer("sha256:l1") is None
    fresh.close()
    again = ContentCache.open(path, "old-rules", now=3000.0)  # used again: kept
    assert again.matches("sha256:aa") == [MATCH] and again.get_layer("sha256:l1") == b"record"
    again.close()
    later = ContentCache.open(path, "new-rules", now=3000.0 + STALE_SECONDS + 1)
    later.close()
    gone = ContentCache.open(path, "old-rules", now=3000.0 + STALE_SECONDS + 2)
    assert gone.matches("sha256:aa") is None and gone.get_layer("sha256:l1") is None


def test_an_unusable_cache_file_is_no_cache(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    cache = ContentCache.open(folder, "k")  # a directory: cannot be opened
    cache.save("sha256:aa", [])
    cache.flush()
    assert cache.get_layer("x") is None
    cache.close()
