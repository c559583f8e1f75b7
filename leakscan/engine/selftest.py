"""Every rule's examples, run through the whole detector (prefilter, pattern, filters)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leakscan.engine.detector import Detector
from leakscan.rules.spec import Rule


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    rule_id: str
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: rule {self.rule_id}: {self.message}"


def check_rule(detector: Detector, rule: Rule) -> list[ExampleFailure]:
    failures: list[ExampleFailure] = []

    def fail(msg: str) -> None:
        failures.append(ExampleFailure(rule.id, rule.source, msg))

    for n, ex in enumerate(rule.examples, 1):
        if not rule.context and not any(k.lower() in ex.text.lower() for k in rule.keywords):
            fail(f"example {n}: none of the keywords occurs in the text")
        found = [
            m.secret for m in detector.scan(ex.text.encode(), ex.context) if m.rule_id == rule.id
        ]
        if ex.secret not in found:
            fail(f"example {n}: expected secret not found (found {len(found)} other match(es))")
    for n, neg in enumerate(rule.negative_examples, 1):
        hits = [m for m in detector.scan(neg.text.encode(), neg.context) if m.rule_id == rule.id]
        if hits:
            fail(f"negative example {n}: matched, but must not")
    return failures


def run_examples(detector: Detector, rules: Sequence[Rule] | None = None) -> list[ExampleFailure]:
    """Failures of every example of ``rules`` (default: all the detector's rules)."""
    failures: list[ExampleFailure] = []
    for rule in rules if rules is not None else detector.rules:
        failures.extend(check_rule(detector, rule))
    return failures
