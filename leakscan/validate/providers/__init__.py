"""The registry: which check validates a rule's secrets, and by which provider name."""

from __future__ import annotations

from leakscan.validate.interface import Check
from leakscan.validate.providers.aws import AwsStsCheck
from leakscan.validate.providers.table import CHECKS

ALL: tuple[Check, ...] = (*CHECKS, AwsStsCheck())


def by_rule() -> dict[str, Check]:
    out: dict[str, Check] = {}
    for check in ALL:
        for rule in check.rules:
            out[rule] = check
    return out


def partner_rules() -> dict[str, Check]:
    """Rules that are the second half of a pair -> the check their primary uses."""
    return {c.partner_rule: c for c in ALL if c.partner_rule}


def provider_names() -> list[str]:
    return sorted({c.provider for c in ALL})
