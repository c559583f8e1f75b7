"""The content cache file: entries under one key, stale keys dropped, never a failed scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.store import content_cache
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


def test_contents_without_matches_answered_from_one_read(tmp_path: Path) -> None:
    """A reused layer asks for thousands of contents, nearly all clean: those are answered
    from the one read of the key's digests, the others (and unknown ones) as before."""
    path = tmp_path / "c.sqlite"
    clean = [f"sha256:{i:064x}" for i in range(50)]
    found = "sha256:" + "ab" * 32
    first = ContentCache.open(path, "k", now=1000.0)
    for digest in clean:
        first.save(digest, [])
    first.save(found, [MATCH])
    first.close()
    again = ContentCache.open(path, "k", now=1001.0)
    assert again.conn is not None
    selects: list[str] = []
    again.conn.set_trace_callback(lambda sql: selects.append(sql) if "SELECT" in sql else None)
    assert all(again.matches(d) == [] for d in clean)
    assert again.matches(found) == [MATCH]
    assert again.matches("sha256:" + "cd" * 32) is None
    assert again.matches("sha256:not-hex") is None
    assert len(selects) == 2  # the digests once, then the one content holding a match
    again.close()


def test_a_cache_too_large_to_index_answers_each_content_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_cache, "INDEX_LIMIT", 10)
    path = tmp_path / "c.sqlite"
    first = ContentCache.open(path, "k", now=1000.0)
    clean = [f"sha256:{i:064x}" for i in range(50)]
    for digest in clean:
        first.save(digest, [])
    first.save("sha256:" + "ab" * 32, [MATCH])
    first.close()
    again = ContentCache.open(path, "k", now=1001.0)
    assert all(again.matches(d) == [] for d in clean)
    assert again.matches("sha256:" + "ab" * 32) == [MATCH]
    assert again.matches("sha256:" + "cd" * 32) is None
    again.close()
