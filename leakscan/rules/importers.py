"""Rules teams already have → leakscan rule mappings (written out as a leakscan YAML file).

Supported: gitleaks TOML (``[[rules]]`` with ``id``, ``description``, ``regex``,
``secretGroup``, ``entropy``, ``keywords``, ``tags``, ``[rules.allowlist]`` /
``[[rules.allowlists]]`` ``regexes`` and ``stopwords``) and truffleHog3 YAML (a list of
``id``, ``message``, ``pattern``, ``severity``; entropy-only rules are left out: leakscan's
entropy detectors cover them).

Neither format carries examples, and a leakscan rule without examples does not load. So an
imported rule needs a sample text from the user (``examples={rule id: [text, ...]}``): the
importer runs the rule's pattern over it to record the secret, and derives a negative example
(the sample with the secret masked) that the pattern does not match. A rule given no sample,
or whose sample it does not match, is left out and named in ``ImportResult.left_out``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex
import yaml

from leakscan.errors import RuleError
from leakscan.yamldepth import SAFE_LOADER, TooDeep, check_depth

_SEVERITY = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
    "info": "low",
}


@dataclass(slots=True)
class ImportResult:
    rules: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # "rule-id: why"

    def to_yaml(self, source: str, tool: str) -> str:
        doc = {"description": f"Imported from {tool} rules in {source}", "rules": self.rules}
        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000))


def leakscan_id(prefix: str, foreign_id: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", foreign_id.lower()).strip("-.") or "rule"
    return f"{prefix}{slug}"


def go_to_regex(pattern: str) -> str:
    """RE2 (Go) syntax → the ``regex`` module's: only ``\\z`` differs in practice."""
    return re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern)


def longest_literal(pattern: str) -> str | None:
    """The longest literal run (3+ characters) the pattern always contains, if found."""
    try:
        import re._parser as sre_parse

        parsed = sre_parse.parse(pattern)
    except Exception:  # not parseable by re: no literal derived
        return None
    best, run = "", ""
    for op, arg in parsed:
        if str(op) == "LITERAL":
            run += chr(arg)
            continue
        if len(run) > len(best):
            best = run
        run = ""
    if len(run) > len(best):
        best = run
    best = best.strip()
    return best if len(best) >= 3 else None


def _masked_negatives(text: str, secret: str, keyword: str) -> list[str]:
    masked = "x" * len(secret) if secret else ""
    return [
        text.replace(secret, masked) if secret else "",
        text.replace(secret, "${SECRET}") if secret else "",
        text.replace(secret, "") if secret else "",
        f"{keyword} = REDACTED",
        "nothing to see here",
    ]


def build_rule(
    *,
    rid: str,
    name: str,
    pattern: str,
    keywords: Sequence[str],
    secret_group: int,
    samples: Sequence[str],
    severity: str = "high",
    confidence: str = "medium",
    entropy: float | None = None,
    allow: Sequence[str] = (),
    tags: Sequence[str] = (),
    description: str = "",
) -> dict[str, Any]:
    """A leakscan rule mapping with examples computed from the samples (RuleError if none fit)."""
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise RuleError(f"pattern does not compile: {exc}") from None
    if secret_group > compiled.groups:
        raise RuleError(f"secretGroup {secret_group} does not exist in the pattern")
    if not samples:
        raise RuleError("no example given (pass --example RULE-ID=TEXT)")
    examples = []
    for text in samples:
        m = compiled.search(text)
        if m is None or not m.group(secret_group):
            raise RuleError("the pattern does not match the example given")
        examples.append({"text": text, "secret": m.group(secret_group)})
    kw = [k for k in keywords if k] or [longest_literal(pattern) or examples[0]["secret"][:4]]
    first = examples[0]
    negative = next(
        (
            n
            for n in _masked_negatives(first["text"], first["secret"], kw[0])
            if compiled.search(n) is None
        ),
        None,
    )
    if negative is None:
        raise RuleError("cannot derive a negative example (the pattern matches anything)")
    rule: dict[str, Any] = {
        "id": rid,
        "name": name,
        "description": description,
        "pattern": pattern,
        "keywords": list(kw),
        "secret_group": secret_group,
        "confidence": confidence,
        "severity": severity,
    }
    if entropy:
        rule["entropy"] = float(entropy)
    if allow:
        rule["allow"] = list(allow)
    rule["tags"] = ["imported", *tags]
    rule["examples"] = examples
    rule["negative_examples"] = [negative]
    return rule


def _samples_for(examples: Mapping[str, Sequence[str]], foreign_id: str, rid: str) -> list[str]:
    return list(examples.get(foreign_id, ())) + list(examples.get(rid, ()))


def import_gitleaks(
    text: str,
    source: str,
    examples: Mapping[str, Sequence[str]],
    prefix: str = "imported.gitleaks.",
) -> ImportResult:
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise RuleError(f"{source}: invalid TOML: {str(exc).splitlines()[0][:120]}") from None
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list):
        raise RuleError(f"{source}: a gitleaks config holds [[rules]] tables")
    out = ImportResult()
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise RuleError(f"{source}: rule #{i + 1} is not a table")
        fid = str(raw.get("id") or f"rule-{i + 1}")
        rid = leakscan_id(prefix, fid)
        if not raw.get("regex"):
            out.left_out.append(f"{fid}: no regex (path-only rules are not imported)")
            continue
        pattern = go_to_regex(str(raw["regex"]))
        try:
            groups = regex.compile(pattern).groups
        except regex.error as exc:
            out.left_out.append(f"{fid}: pattern does not compile: {exc}")
            continue
        group = int(raw.get("secretGroup") or (1 if groups == 1 else 0))
        allow: list[str] = []
        lists = raw.get("allowlists") or ([raw["allowlist"]] if raw.get("allowlist") else [])
        for allowlist in lists:
            allow.extend(str(r) for r in allowlist.get("regexes", []) or [])
            words = allowlist.get("stopwords", []) or []
            allow.extend(f"(?i){regex.escape(str(w))}" for w in words)
        try:
            out.rules.append(
                build_rule(
                    rid=rid,
                    name=str(raw.get("description") or fid),
                    pattern=pattern,
                    keywords=[str(k) for k in raw.get("keywords", []) or []],
                    secret_group=group,
                    samples=_samples_for(examples, fid, rid),
                    entropy=raw.get("entropy"),
                    allow=allow,
                    tags=["gitleaks", *[str(t) for t in raw.get("tags", []) or []]],
                    description=f"Imported from gitleaks rule {fid} ({source}).",
                )
            )
        except RuleError as exc:
            out.left_out.append(f"{fid}: {exc}")
    return out


def import_trufflehog3(
    text: str,
    source: str,
    examples: Mapping[str, Sequence[str]],
    prefix: str = "imported.trufflehog3.",
) -> ImportResult:
    try:
        check_depth(text, 100, SAFE_LOADER)
        doc = yaml.load(text, Loader=SAFE_LOADER)
    except TooDeep as exc:
        raise RuleError(f"{source}: {exc}") from None
    except yaml.YAMLError:
        raise RuleError(f"{source}: invalid YAML") from None
    if isinstance(doc, dict):
        doc = doc.get("rules")
    if not isinstance(doc, list):
        raise RuleError(f"{source}: a truffleHog3 rules file is a list of rules")
    out = ImportResult()
    seen: dict[str, int] = {}
    for i, raw in enumerate(doc):
        if not isinstance(raw, dict):
            raise RuleError(f"{source}: rule #{i + 1} is not a mapping")
        fid = str(raw.get("id") or f"rule-{i + 1}")
        if not raw.get("pattern"):
            out.left_out.append(f"{fid}: entropy-only rule (leakscan's entropy detectors cover it)")
            continue
        rid = leakscan_id(prefix, fid)
        seen[rid] = seen.get(rid, 0) + 1
        if seen[rid] > 1:
            rid = f"{rid}-{seen[rid]}"
        severity = _SEVERITY.get(str(raw.get("severity", "medium")).lower(), "medium")
        try:
            out.rules.append(
                build_rule(
                    rid=rid,
                    name=str(raw.get("message") or fid),
                    pattern=str(raw["pattern"]),
                    keywords=(),
                    secret_group=0,
                    samples=_samples_for(examples, fid, rid),
                    severity=severity,
                    tags=["trufflehog3"],
                    description=f"Imported from truffleHog3 rule {fid} ({source}).",
                )
            )
        except RuleError as exc:
            out.left_out.append(f"{fid}: {exc}")
    return out
