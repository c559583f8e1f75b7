"""The parsed-rule cache gives the rules and the digest that parsing them afresh gives."""

from __future__ import annotations

import pickle

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
