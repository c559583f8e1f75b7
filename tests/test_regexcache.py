"""Patterns compiled from the cache of programs match as ``regex.compile``'s do, a damaged
cache is compiled anew, and a run with the cache compiles nothing in Python."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import regex

from leakscan import keptdict, regexcache

PATTERNS = [
    (r"(?<key>ghp_[A-Za-z0-9]{36})\b", 0),
    (rb"(?i)password\s*[:=]\s*(\S{8,64})", regex.IGNORECASE),
    (r"(?x) ^ [0-9a-f]{8} - (?:[0-9a-f]{4}-){3} [0-9a-f]{12} $", 0),
]
TEXTS = [
    "token ghp_0123456789abcdefghijABCDEFGHIJ012345 here",
    "0e4a8f3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b",
    "nothing",
]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(keptdict.atexit, "register", lambda fn: fn)
    regexcache.programs.forget()
    yield tmp_path
    regexcache.programs.forget()


def _matches(compiled: object, text: str | bytes) -> list[tuple[int, int, tuple[object, ...]]]:
    return [(m.start(), m.end(), m.groups()) for m in compiled.finditer(text)]  # type: ignore[attr-defined]


def test_a_later_run_compiles_from_the_cache_alike(
    fresh: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [regexcache.compile(p, f) for p, f in PATTERNS]
    regexcache.programs.save()
    assert list(fresh.glob("regex-programs-*.pickle"))
    regexcache.programs.forget()  # a new run
    monkeypatch.setattr(regex, "compile", lambda *a, **k: pytest.fail("parsed again"))
    again = [regexcache.compile(p, f) for p, f in PATTERNS]
    for (pattern, _), old, new in zip(PATTERNS, first, again, strict=True):
        assert (new.pattern, new.flags, new.groupindex) == (old.pattern, old.flags, old.groupindex)
        for text in TEXTS:
            subject = text.encode() if isinstance(pattern, bytes) else text
            assert _matches(new, subject) == _matches(old, subject)


def test_a_damaged_cache_is_compiled_anew(fresh: Path) -> None:
    pattern = r"(?<key>glpat-[A-Za-z0-9_-]{20})"  # not compiled before in this process
    regexcache.compile(pattern)
    regexcache.programs.save()
    [file] = fresh.glob("regex-programs-*.pickle")
    file.write_bytes(b"not a pickle")
    regexcache.programs.forget()
    compiled = regexcache.compile(pattern)
    assert compiled.search("x glpat-abcdefghij0123456789 y").group("key").startswith("glpat-")


def test_a_pattern_regex_already_holds_is_kept_too(fresh: Path) -> None:
    """A pattern this process compiled before (regex keeps it in its own cache and would not
    compile it again) still has its program kept for the next run."""
    pattern = r"(?<k>sk_live_[0-9a-zA-Z]{24})\b"
    regex.compile(pattern)
    compiled = regexcache.compile(pattern)
    assert compiled.pattern == pattern
    assert (pattern, 0, int(getattr(regex, "DEFAULT_VERSION", 0))) in regexcache.programs.added


def test_a_program_regex_rejects_is_compiled_anew_and_replaced(fresh: Path) -> None:
    """A cached program the C engine does not take (another regex's, a damaged entry) falls
    back to ``regex.compile``, and the program made then is the one kept."""
    pattern = r"(?<key>xoxb-[0-9]{10,13}-[0-9A-Za-z]{24})"  # not compiled before in this process
    key = (pattern, 0, int(getattr(regex, "DEFAULT_VERSION", 0)))
    rejected = pickle.dumps(("not", "a", "program"))
    regexcache.programs.entries()[key] = rejected
    compiled = regexcache.compile(pattern)
    found = compiled.search("t xoxb-1234567890-abcdefghijklmnopqrstuvwx z")  # leakscan:allow
    assert found is not None and found.group("key").startswith("xoxb-")
    made = regexcache.programs.added[key]
    assert made != rejected
    regexcache.programs.save()
    regexcache.programs.forget()  # a new run takes the program made here
    assert regexcache.programs.get(key) == made
