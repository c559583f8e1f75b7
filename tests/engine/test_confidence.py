"""Confidence means something: no generic (context-decided) rule claims `high`, and the
free-text keyword assignments of patterns/generic.yaml stay `low`."""

from __future__ import annotations

from leakscan.engine.detector import is_generic
from leakscan.rules.loader import load_rules

RULES = load_rules()


def test_no_generic_rule_is_high() -> None:
    assert [r.id for r in RULES if is_generic(r) and r.confidence == "high"] == []


def test_context_rules_are_medium_and_free_text_assignments_low() -> None:
    by_id = {r.id: r for r in RULES}
    for rid in ("password", "secret", "api-key", "token"):
        assert by_id[f"leakscan.generic.{rid}"].confidence == "low"
    for rid in ("secret-named-value", "url-credentials", "xml-password"):
        assert by_id[f"leakscan.generic.{rid}"].confidence == "medium"
    assert all(r.confidence == "medium" for r in RULES if r.context)
