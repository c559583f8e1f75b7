"""Placeholder data (patterns/placeholders.yaml): every entry's examples, and the loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.engine import filters
from leakscan.errors import RuleError
from leakscan.rules.loader import builtin_dir, load_rules
from leakscan.rules.placeholders import builtin_placeholders, load_placeholders

DATA = builtin_placeholders()


@pytest.mark.parametrize("word", DATA.words, ids=lambda w: w.id)
def test_each_word_entry_passes_its_own_examples(word) -> None:  # type: ignore[no-untyped-def]
    assert [e for e in word.examples if not filters.is_placeholder_word(e, DATA)] == []
    assert [e for e in word.negative_examples if filters.is_placeholder_word(e, DATA)] == []


def test_known_examples_name_their_vendor_and_page() -> None:
    assert len(DATA.known) >= 5
    for known in DATA.known:
        assert known.vendor and known.references[0].startswith("https://")
        assert filters.is_known_example(known.value, DATA)


@pytest.mark.parametrize(
    "value",
    [
        "aB3noNe9XqLm2Pz8Rt5WqK7Yn",  # spells "none" inside a random token
        "Kq8TodoX3zLm9Pw2Rt",  # "Todo" between a letter and a capital: a random run
        "zP4fake8Qm2Lx9Wc7Rt",
        "w9XxxxQz2Lm8Pc4Rt7",
    ],
)
def test_a_random_token_that_spells_a_short_word_is_not_a_placeholder(value: str) -> None:
    assert not filters.is_placeholder(value)


def test_the_data_file_is_not_read_as_rules_and_rules_still_load() -> None:
    assert (builtin_dir() / "placeholders.yaml").is_file()
    assert not [r for r in load_rules() if r.source.endswith("placeholders.yaml")]


def test_bad_placeholder_data_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("placeholders:\n  words:\n  - {id: x, word: '(', examples: [a]}\n")
    with pytest.raises(RuleError, match=r"p\.yaml"):
        load_placeholders(bad)


def test_the_detector_digest_follows_the_placeholder_data(tmp_path: Path) -> None:
    from dataclasses import replace

    from leakscan.engine.detector import Detector
    from tests.helpers import write_rules

    rules = load_rules([write_rules(tmp_path / "rules")], include_builtin=False)
    fewer = replace(DATA, known=DATA.known[1:])
    one = Detector(rules, use_cache=False)
    other = Detector(rules, use_cache=False, placeholders=fewer)
    assert one.digest != other.digest
    first = DATA.known[0].value
    assert not filters.is_known_example(first, fewer)
