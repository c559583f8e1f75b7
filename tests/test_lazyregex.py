"""Module-level patterns compiled on first use match as the compiled pattern does, and then
are the compiled pattern."""

from __future__ import annotations

from typing import Any

import regex

from leakscan.engine import shape
from leakscan.lazyregex import lazy


def test_first_use_compiles_and_takes_the_stand_ins_place() -> None:
    namespace: dict[str, Any] = {}
    namespace["_WORD"] = lazy(namespace, r"(?<first>\w+)\s+\w+", regex.IGNORECASE)
    stand_in = namespace["_WORD"]
    found = stand_in.search("  Hello World")
    assert found is not None and found.group("first") == "Hello"
    compiled = namespace["_WORD"]
    assert compiled is not stand_in and isinstance(compiled, type(regex.compile("")))
    assert compiled.pattern == r"(?<first>\w+)\s+\w+" and compiled.flags & regex.IGNORECASE
    assert stand_in.match("x y") is not None  # a reference kept elsewhere still works


def test_the_engines_patterns_judge_as_before() -> None:
    assert shape.is_uuid("123e4567-e89b-12d3-a456-426614174000")
    assert not shape.is_uuid("ghp_notauuid")
    assert shape.is_path("/etc/ssl/private/server.key")
    assert isinstance(shape._UUID, type(regex.compile("")))  # compiled once used
