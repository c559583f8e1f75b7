"""A rule's ``prefilter``: what the one Hyperscan pass looks for instead of a slow pattern."""

from __future__ import annotations

from pathlib import Path

import hyperscan
import pytest

from leakscan.engine.database import PREFILTER, _hs_flags, _hs_pattern
from leakscan.engine.detector import Detector
from leakscan.errors import RuleError
from leakscan.rules.loader import load_rules
from leakscan.rules.spec import Rule

# a token shape with no literal before its tail: the prefilter looks for the tail only
RULE = r"""
rules:
- id: test.tailed
  name: Tailed token
  pattern: \b([A-Za-z0-9]{24}_[0-9a-f]{8})\b
  prefilter: {prefilter}
  keywords: [_]
  examples:
  - text: TOKEN=Qm9vZ2xlRmFjdG9yeTQy0a1b_3c9d2e7f  # leakscan:allow
    secret: Qm9vZ2xlRmFjdG9yeTQy0a1b_3c9d2e7f  # leakscan:allow
  negative_examples:
  - TOKEN=short_3c9d2e7f
"""


def detector(tmp_path: Path, prefilter: str) -> Detector:
    (tmp_path / "rules.yaml").write_text(RULE.replace("{prefilter}", prefilter))
    rules = load_rules([tmp_path], include_builtin=False)
    return Detector(rules, use_cache=False)


def test_the_pattern_still_decides_around_a_prefilter_hit(tmp_path: Path) -> None:
    det = detector(tmp_path, r"_[0-9a-f]{8}\b")
    assert det.compiled.modes == {"test.tailed": PREFILTER}
    text = b"x = 1\nTOKEN=Qm9vZ2xlRmFjdG9yeTQy0a1b_3c9d2e7f # leakscan:allow\n"
    assert [(m.secret, m.line) for m in det.scan(text)] == [
        ("Qm9vZ2xlRmFjdG9yeTQy0a1b_3c9d2e7f", 2)
    ]
    assert det.scan(b"TOKEN=short_3c9d2e7f\n") == []  # the prefilter's hit alone is no finding


def test_the_pass_looks_for_the_prefilter_not_the_pattern(tmp_path: Path) -> None:
    # a prefilter that never matches hides the token: the pass uses it, not the pattern
    det = detector(tmp_path, "zzzz-never-zzzz")
    assert det.scan(b"TOKEN=Qm9vZ2xlRmFjdG9yeTQy0a1b_3c9d2e7f\n") == []  # leakscan:allow


def test_a_prefilter_that_does_not_compile_names_the_rule(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULE.replace("{prefilter}", "'(unclosed'"))
    with pytest.raises(RuleError, match=r"test\.tailed: prefilter does not compile"):
        load_rules([tmp_path], include_builtin=False)


def _builtin_with_prefilter() -> list[Rule]:
    return [r for r in load_rules() if r.prefilter]


@pytest.mark.parametrize("rule", _builtin_with_prefilter(), ids=lambda r: r.id)
def test_builtin_prefilters_hit_every_example(rule: Rule) -> None:
    """A prefilter is a superset of its pattern: each positive example is hit by it."""
    db = hyperscan.Database()
    db.compile(
        expressions=[_hs_pattern(rule, PREFILTER)],
        ids=[0],
        elements=1,
        flags=[_hs_flags(rule, PREFILTER)],
    )
    for example in rule.examples:
        hits: list[int] = []

        def on_match(*args: object, hits: list[int] = hits) -> None:
            hits.append(1)

        db.scan(example.text.encode(), match_event_handler=on_match)
        assert hits, f"{rule.id}: prefilter misses {example.text!r}"
