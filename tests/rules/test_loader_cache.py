"""The parsed-rule cache gives the rules and the digest that parsing them afresh gives."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from leakscan.rules import loader


def test_the_digest_read_with_the_cached_rules_is_the_one_computed_afresh() -> None:
    rules = loader.load_rules()
    cached = loader.rules_digest(rules)
    assert loader._BODIES  # the bodies came with the rules
    loader._BODIES.clear()
    assert loader.rules_digest(rules) == cached
    assert loader.rules_digest(rules[10:200]) != cached


def test_rules_survive_pickling_unchanged() -> None:
    rules = loader.load_rules()
    assert pickle.loads(pickle.dumps(rules)) == rules


def test_a_changed_digest_body_is_not_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest bodies kept with cached rules are those of the code that runs: after a
    change to how a rule is digested, the rules' digest is the new one, not the cached one."""
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(tmp_path))
    before = loader.rules_digest(loader.load_rules())  # the cache filled
    digest_body = loader._digest_body
    monkeypatch.setattr(loader, "_digest_body", lambda rule: digest_body(rule) + b"!")
    loader._BODIES.clear()
    after = loader.load_rules()
    assert loader.rules_digest(after) != before
    assert after == loader.load_rules()
