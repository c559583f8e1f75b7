"""Rule files (YAML, one per provider family) → validated :class:`Rule` values.

A file holds ``rules:``, a list of mappings. Unknown keys, a pattern that does not compile,
a missing secret group and a rule without positive *and* negative examples are errors that
name the file and the rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import regex

from leakscan.errors import RuleError
from leakscan.lazyregex import lazy
from leakscan.model import CONFIDENCES, SEVERITIES
from leakscan.rules import filecache
from leakscan.rules.builtin import builtin_dir
from leakscan.rules.placeholders import is_placeholder_file
from leakscan.rules.spec import Example, NegativeExample, Rule

_REQUIRED = {"id", "name", "pattern", "keywords", "examples", "negative_examples"}
_OPTIONAL = {
    "secret_group",
    "entropy",
    "confidence",
    "severity",
    "checksum",
    "references",
    "tags",
    "ignore_case",
    "multiline_secret",
    "max_length",
    "context",
    "allow",
    "description",
    "prefilter",
}
MAX_RULE_FILE_DEPTH = 100  # a rule file nests 4 or 5 levels; deeper is refused before loading
_ID = lazy(globals(), r"^[a-z0-9][a-z0-9_.-]*$")


def load_rules(paths: Sequence[Path] | None = None, include_builtin: bool = True) -> list[Rule]:
    """Load every ``*.yaml``/``*.yml`` file under the given folders or files."""
    roots: list[Path] = [builtin_dir()] if include_builtin else []
    roots.extend(paths or [])
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for file in _rule_files(roots):
        for rule in _load_file_cached(file):
            if rule.id in seen:
                raise RuleError(f"{file}: rule {rule.id}: id already defined in {seen[rule.id]}")
            seen[rule.id] = str(file)
            rules.append(rule)
    return rules


def _rule_files(roots: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files.extend(sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            raise RuleError(f"{root}: no such rule file or folder")
    return files


_CACHE_VERSION = b"rules-v4"  # v4: (rules, their digest bodies); rules pickled as calls


def _cache_version() -> bytes:
    """What a cached rule file's entry is valid for: its format, and the code that made the
    digest bodies kept with it (a changed ``_digest_body`` must not read old bodies)."""
    code = _digest_body.__code__
    made = hashlib.sha256(code.co_code + repr(code.co_consts).encode()).digest()[:8]
    return _CACHE_VERSION + made


def _load_file_cached(file: Path) -> list[Rule]:
    """A rule file's rules, from a cache keyed by its path and content when it is valid.

    Parsing and validating (compiling every pattern) costs more than the scan of a small
    target; a file that did not change is not validated again. Each rule's part of
    :func:`rules_digest` is kept with it.
    """
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise RuleError(f"{file}: cannot read rule file: {exc.strerror}") from None
    rules, bodies = filecache.load(file, content, _cache_version(), _parse_file, _is_parsed)
    for rule, body in zip(rules, bodies, strict=True):
        _BODIES[id(rule)] = (rule, body)
    return rules


def _parse_file(file: Path) -> tuple[list[Rule], tuple[bytes, ...]]:
    rules = load_file(file)
    return rules, tuple(_digest_body(rule) for rule in rules)


def _is_parsed(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], list)
        and all(isinstance(r, Rule) for r in value[0])
        and isinstance(value[1], tuple)
        and len(value[1]) == len(value[0])
        and all(isinstance(b, bytes) for b in value[1])
    )


def load_file(file: Path) -> list[Rule]:
    import yaml  # only for a file not in the cache

    from leakscan.yamldepth import SAFE_LOADER, TooDeep, check_depth

    try:
        text = file.read_text(encoding="utf-8")
        check_depth(text, MAX_RULE_FILE_DEPTH, SAFE_LOADER)
        doc = yaml.load(text, Loader=SAFE_LOADER)
    except TooDeep as exc:
        raise RuleError(f"{file}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{file}: cannot read rule file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise RuleError(f"{file}:{where} invalid YAML in rule file") from None
    if is_placeholder_file(doc):
        return []  # placeholder words and example keys (leakscan.rules.placeholders)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleError(f"{file}: a rule file holds a mapping with a 'rules' list")
    extra = set(doc) - {"rules", "description"}
    if extra:
        raise RuleError(f"{file}: unknown top-level key(s): {', '.join(sorted(extra))}")
    return [parse_rule(raw, file, i) for i, raw in enumerate(doc["rules"])]


def parse_rule(raw: Any, file: Path | str, index: int = 0) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"{file}: rule #{index + 1}: a rule is a mapping")
    rid = str(raw.get("id", f"#{index + 1}"))
    where = f"{file}: rule {rid}"

    def fail(msg: str) -> RuleError:
        return RuleError(f"{where}: {msg}")

    unknown = set(raw) - _REQUIRED - _OPTIONAL
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(unknown))}")
    missing = _REQUIRED - set(raw)
    if missing:
        if missing & {"examples", "negative_examples"}:
            raise fail("a rule needs both examples and negative_examples")
        raise fail(f"missing key(s): {', '.join(sorted(missing))}")
    if not _ID.match(rid):
        raise fail("id must be lowercase letters, digits, '.', '-' or '_'")
    pattern = raw["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise fail("pattern must be a non-empty string")
    ignore_case = bool(raw.get("ignore_case", False))
    try:
        compiled = regex.compile(pattern, regex.IGNORECASE if ignore_case else 0)
    except regex.error as exc:
        raise fail(f"pattern does not compile: {exc}") from None
    group = raw.get("secret_group", 1 if compiled.groups else 0)
    if isinstance(group, int):
        if group > compiled.groups or group < 0:
            raise fail(f"secret_group {group} does not exist in the pattern")
    elif isinstance(group, str):
        if group not in compiled.groupindex:
            raise fail(f"secret_group {group!r} does not exist in the pattern")
    else:
        raise fail("secret_group must be a group number or name")
    keywords = raw["keywords"]
    if isinstance(keywords, str):
        keywords = [keywords]
    if (
        not isinstance(keywords, list)
        or not keywords
        or not all(isinstance(k, str) and k for k in keywords)
    ):
        raise fail("keywords must be a non-empty list of strings")
    confidence = str(raw.get("confidence", "medium"))
    if confidence not in CONFIDENCES:
        raise fail(f"confidence must be one of {', '.join(CONFIDENCES)}")
    severity = str(raw.get("severity", "high"))
    if severity not in SEVERITIES:
        raise fail(f"severity must be one of {', '.join(SEVERITIES)}")
    context = raw.get("context")
    allow = tuple(str(a) for a in raw.get("allow", []) or [])
    for extra_re in ([context] if context else []) + list(allow):
        try:
            regex.compile(extra_re)
        except regex.error as exc:
            raise fail(f"context/allow regex does not compile: {exc}") from None
    prefilter = raw.get("prefilter")
    if prefilter is not None:
        if not isinstance(prefilter, str) or not prefilter:
            raise fail("prefilter must be a non-empty string")
        try:
            regex.compile(prefilter)
        except regex.error as exc:
            raise fail(f"prefilter does not compile: {exc}") from None
    examples = _examples(raw["examples"], fail)
    negatives = _negatives(raw["negative_examples"], fail)
    if not examples or not negatives:
        raise fail("a rule needs at least one example and one negative example")
    try:
        entropy = float(raw.get("entropy", 0.0))
        max_length = int(raw.get("max_length", 1024))
    except (TypeError, ValueError):
        raise fail("entropy must be a number and max_length an integer") from None
    return Rule(
        id=rid,
        name=str(raw["name"]),
        pattern=pattern,
        keywords=tuple(str(k) for k in keywords),
        secret_group=group,
        entropy=entropy,
        confidence=confidence,
        severity=severity,
        checksum=raw.get("checksum"),
        references=tuple(str(r) for r in raw.get("references", []) or []),
        tags=tuple(str(t) for t in raw.get("tags", []) or []),
        ignore_case=ignore_case,
        multiline_secret=bool(raw.get("multiline_secret", False)),
        max_length=max_length,
        context=context,
        allow=allow,
        prefilter=prefilter,
        examples=examples,
        negative_examples=negatives,
        source=str(file),
    )


def _examples(raw: Any, fail: Any) -> tuple[Example, ...]:
    if not isinstance(raw, list):
        raise fail("examples must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or "text" not in item or "secret" not in item:
            raise fail("each example is a mapping with 'text' and 'secret'")
        if set(item) - {"text", "secret", "context"}:
            raise fail("an example has only 'text', 'secret' and 'context'")
        out.append(Example(str(item["text"]), str(item["secret"]), item.get("context")))
    return tuple(out)


def _negatives(raw: Any, fail: Any) -> tuple[NegativeExample, ...]:
    if not isinstance(raw, list):
        raise fail("negative_examples must be a list")
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(NegativeExample(item))
        elif isinstance(item, dict) and "text" in item and not set(item) - {"text", "context"}:
            out.append(NegativeExample(str(item["text"]), item.get("context")))
        else:
            raise fail("a negative example is a string or a mapping with 'text' (and 'context')")
    return tuple(out)


#: id(rule) -> (rule, its part of the digest), for the rules read from the cache
_BODIES: dict[int, tuple[Rule, bytes]] = {}


def rules_digest(rules: Sequence[Rule]) -> str:
    """A digest of the loaded rules: caches of scan results are keyed by it."""
    h = hashlib.sha256()
    for rule in sorted(rules, key=lambda r: r.id):
        known = _BODIES.get(id(rule))
        h.update(known[1] if known is not None and known[0] is rule else _digest_body(rule))
    return "sha256:" + h.hexdigest()


def _digest_body(rule: Rule) -> bytes:
    body = {
        "id": rule.id,
        "pattern": rule.pattern,
        "keywords": rule.keywords,
        "group": rule.secret_group,
        "entropy": rule.entropy,
        "confidence": rule.confidence,
        "severity": rule.severity,
        "checksum": rule.checksum,
        "ignore_case": rule.ignore_case,
        "context": rule.context,
        "allow": rule.allow,
        "max_length": rule.max_length,
        "tags": rule.tags,  # the engine reads some (generic, password)
        "multiline": rule.multiline_secret,
    }
    if rule.prefilter:  # only when set: the digests of rules without one stay the same
        body["prefilter"] = rule.prefilter
    return json.dumps(body, sort_keys=True).encode()
