"""A peer's detectors as the yardstick: the formats Kingfisher knows (its own rules and the
Betterleaks rules it bundles), read from ``kingfisher rules list --format json`` at run time.

Nothing of them is stored: the generator draws a fresh match of each pattern, the synthetic
tree plants it, and the bench reports per peer rule whether leakscan finds it. The rules are
never copied into leakscan; the list names the families where a rule is missing, and that rule
is written from the provider's documentation.
"""

from __future__ import annotations

import json
import subprocess

import regex

from leakscan.rules.spec import Rule


def kingfisher_rules(exe: str, timeout: float = 120.0) -> list[Rule]:
    """Kingfisher's rules as generator input (id, pattern, secret group); unparsable left out."""
    proc = subprocess.run(
        [exe, "rules", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return []
    try:
        raw = json.loads(proc.stdout)
    except ValueError:
        return []
    rules: list[Rule] = []
    seen: set[str] = set()
    for item in raw if isinstance(raw, list) else []:
        rule = as_rule(item)
        if rule is not None and rule.id not in seen:
            seen.add(rule.id)
            rules.append(rule)
    return rules


def as_rule(item: object) -> Rule | None:
    """One listed rule as a :class:`Rule` the generator can draw from, or None."""
    if not isinstance(item, dict):
        return None
    rule_id, pattern = item.get("id"), item.get("pattern")
    if not isinstance(rule_id, str) or not isinstance(pattern, str):
        return None
    try:
        compiled = regex.compile(pattern)
    except regex.error:
        return None
    return Rule(
        id=rule_id,
        name=str(item.get("name") or rule_id),
        pattern=pattern,
        keywords=(),
        secret_group=1 if compiled.groups else 0,
        multiline_secret="BEGIN" in pattern and "PRIVATE" in pattern,
        checksum=checksum_kind(pattern),
    )


def checksum_kind(pattern: str) -> str | None:
    """The published checksum a pattern's tokens carry (GitHub's and npm's CRC32 suffix): the
    draw gets a right one, as a real token has, whatever the peer's pattern says."""
    if "npm_" in pattern:
        return "npm"
    if regex.search(r"gh[pousr][_|)]", pattern):
        return "github"
    return None
