"""A fresh cache compiles the built-in rules once, without probing rule by rule."""

from __future__ import annotations

import pytest

from leakscan.engine import database
from leakscan.rules.loader import load_rules


def test_builtin_rules_compile_in_one_pass_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(rule: object) -> str:
        raise AssertionError(f"probed {getattr(rule, 'id', rule)}: the first guess was wrong")

    monkeypatch.setattr(database, "_probe", no_probe)
    rules = load_rules()
    compiled = database.compile_rules(rules, "first-compile-test", use_cache=False)
    modes = set(compiled.modes.values())
    assert database.FULL in modes and database.PREFILTER in modes
    assert database.KEYWORD not in modes


def test_a_lookaround_rule_goes_in_as_a_prefilter() -> None:
    [rule] = [r for r in load_rules() if "(?=" in r.pattern and not r.context][:1]
    assert database._first_guess(rule) == database.PREFILTER


def test_a_cached_database_gets_the_entries_of_a_compiled_one() -> None:
    """The cache's path reads the database's entries off the rules and their modes; they are
    the compile's, keywords (one entry each) and context rules (none) included."""
    rules = load_rules()
    modes = {r.id: database.CONTEXT if r.context else database._first_guess(r) for r in rules}
    keyworded = next(r for r in rules if len(r.keywords) > 1 and not r.context)
    modes[keyworded.id] = database.KEYWORD
    assert database._entries(rules, modes) == database._assemble(rules, modes)[2]
    assert database.CONTEXT in modes.values()
