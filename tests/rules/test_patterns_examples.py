"""Every built-in rule in patterns/ runs its own examples through the whole detector.

A positive example must yield exactly its secret under its rule id (prefilter, pattern,
capture, entropy, placeholder filters, allow-list and checksum all passed); a negative
example must yield nothing for that rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakscan.engine.database import FULL
from leakscan.engine.detector import Detector
from leakscan.rules.loader import builtin_dir, load_rules
from leakscan.rules.spec import Rule
from tests.support.rules_cache import seeded_cache

FAMILIES = (
    "ai.yaml",
    "chat.yaml",
    "cloud.yaml",
    "databases.yaml",
    "email-sms.yaml",
    "generic.yaml",
    "kubernetes.yaml",
    "observability.yaml",
    "payments.yaml",
    "private-keys.yaml",
    "registries.yaml",
    "saas.yaml",
    "source-hosting.yaml",
    "tokens.yaml",
)
RULES: list[Rule] = load_rules()
_ID = re.compile(r"^leakscan\.[a-z0-9-]+\.[a-z0-9-]+$")


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Detector]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSCAN_CACHE_DIR", str(seeded_cache(tmp_path_factory.mktemp("hsdb"))))
        yield Detector(RULES, use_cache=True)


def _positives() -> list[object]:
    return [
        pytest.param(rule, n, id=f"{rule.id}-ex{n}")
        for rule in RULES
        for n in range(len(rule.examples))
    ]


def _negatives() -> list[object]:
    return [
        pytest.param(rule, n, id=f"{rule.id}-neg{n}")
        for rule in RULES
        for n in range(len(rule.negative_examples))
    ]


def test_every_family_file_exists() -> None:
    present = {p.name for p in Path(builtin_dir()).glob("*.yaml")}
    assert set(FAMILIES) <= present
    by_file = {Path(r.source).name for r in RULES}
    assert set(FAMILIES) <= by_file, "each family file holds at least one rule"


def test_rule_count_and_unique_ids() -> None:
    assert len(RULES) >= 600
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    bad = [i for i in ids if not _ID.match(i)]
    assert not bad, f"ids not in the form leakscan.<provider>.<kind>: {bad}"


def test_most_rules_compile_in_hyperscan(detector: Detector) -> None:
    modes = detector.compiled.modes
    plain = [r for r in RULES if not r.context]
    full = [r for r in plain if modes[r.id] == FULL]
    assert len(full) >= 0.9 * len(plain), sorted(r.id for r in plain if modes[r.id] != FULL)


@pytest.mark.parametrize(("rule", "n"), _positives())
def test_positive_example(detector: Detector, rule: Rule, n: int) -> None:
    ex = rule.examples[n]
    if not rule.context:
        assert any(k.lower() in ex.text.lower() for k in rule.keywords), "no keyword in text"
    matches = [m for m in detector.scan(ex.text.encode(), ex.context) if m.rule_id == rule.id]
    # what the pattern finds in the text itself (a decoder may add the decoded form too)
    direct = {m.secret for m in matches if not m.decoded}
    assert direct == {ex.secret}


@pytest.mark.parametrize(("rule", "n"), _negatives())
def test_negative_example(detector: Detector, rule: Rule, n: int) -> None:
    neg = rule.negative_examples[n]
    found = detector.scan(neg.text.encode(), neg.context)
    assert [m.secret for m in found if m.rule_id == rule.id] == []


def test_checksummed_rules_have_a_broken_checksum_negative() -> None:
    for rule in RULES:
        if rule.checksum:
            pattern = re.compile(rule.pattern)
            assert any(pattern.search(n.text) for n in rule.negative_examples), rule.id


def test_every_rule_cites_where_its_format_is_documented() -> None:
    missing = [r.id for r in RULES if not r.references]
    assert not missing, f"rules without references: {missing}"
    bad = [(r.id, u) for r in RULES for u in r.references if not u.startswith("https://")]
    assert not bad, bad
