"""docs/validation.md lists every check: its call, its documentation and its rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakscan.validate import providers

DOC = (Path(__file__).parents[2] / "docs" / "validation.md").read_text()


@pytest.mark.parametrize("check", providers.ALL, ids=lambda c: c.provider)
def test_docs_list_the_check(check: providers.Check) -> None:
    assert f"| `{check.provider}` |" in DOC
    assert check.call in DOC and check.doc in DOC
    for rule in check.rules:
        assert f"`{rule}`" in DOC


def test_every_check_uses_https_on_a_documented_host() -> None:
    for check in providers.ALL:
        assert check.base.startswith("https://"), check.provider
        assert check.doc.startswith("https://"), check.provider


def test_every_rule_a_check_names_exists() -> None:
    from leakscan.rules.loader import load_rules

    known = {rule.id for rule in load_rules()}
    for check in providers.ALL:
        for rule in (*check.rules, *([check.partner_rule] if check.partner_rule else [])):
            assert rule in known, f"{check.provider}: no rule {rule}"
