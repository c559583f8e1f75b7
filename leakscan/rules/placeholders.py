"""Placeholder words and vendors' published example keys, as data (``patterns/placeholders.yaml``).

The file holds ``placeholders:`` (no ``rules:``): the rule loader passes over it. Each word
entry is a case-insensitive regex with a ``match`` mode:

- ``anywhere``: long or distinctive enough never to occur by chance in a random token
  (``example``, ``changeme``, ``your_api_key``);
- ``word``: short words (``none``, ``fake``, ``todo``) that count only where they stand as a
  word: at a boundary of the value or of one of its segments, or filling half of the value.

Every entry carries ``examples`` (values that are stand-ins) and ``negative_examples`` (values
that are not); the test suite runs them. Known example keys are exact values, each with the
vendor and the page that publishes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import regex

from leakscan.errors import RuleError
from leakscan.rules import filecache
from leakscan.rules.builtin import builtin_dir

FILE_NAME = "placeholders.yaml"
MODES = ("anywhere", "word")
_CACHE_VERSION = b"placeholders-v1"


@dataclass(frozen=True, slots=True)
class Word:
    """A stand-in word (a case-insensitive regex) and where it counts."""

    id: str
    pattern: str
    match: str
    examples: tuple[str, ...]
    negative_examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KnownExample:
    """A key a vendor publishes in its documentation."""

    value: str
    vendor: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Placeholders:
    words: tuple[Word, ...]
    known: tuple[KnownExample, ...]
    source: str = ""

    @property
    def digest(self) -> str:
        """Changes whenever the data does: scan caches are keyed by it (with the rules')."""
        body = {
            "words": [(w.id, w.pattern, w.match) for w in self.words],
            "known": sorted(k.value for k in self.known),
        }
        return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def is_placeholder_file(doc: object) -> bool:
    """A parsed YAML document that is placeholder data, not rules."""
    return isinstance(doc, dict) and "placeholders" in doc and "rules" not in doc


def load_placeholders(file: Path) -> Placeholders:
    import yaml  # only for a file not in the cache

    from leakscan.yamldepth import SAFE_LOADER

    try:
        doc = yaml.load(file.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{file}: cannot read placeholder data: {exc}") from None
    if not is_placeholder_file(doc):
        raise RuleError(f"{file}: placeholder data is a mapping with a 'placeholders' key")
    body = doc["placeholders"]
    if not isinstance(body, dict) or set(body) - {"words", "known_examples"}:
        raise RuleError(f"{file}: 'placeholders' holds 'words' and 'known_examples'")
    words = tuple(_word(raw, file, i) for i, raw in enumerate(body.get("words") or []))
    known = tuple(_known(raw, file, i) for i, raw in enumerate(body.get("known_examples") or []))
    return Placeholders(words, known, str(file))


def _strings(raw: Any, where: str, key: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def _word(raw: Any, file: Path, index: int) -> Word:
    where = f"{file}: word #{index + 1}"
    if not isinstance(raw, dict) or set(raw) - {
        "id",
        "word",
        "match",
        "examples",
        "negative_examples",
        "description",
    }:
        raise RuleError(f"{where}: a word has id, word, match, examples, negative_examples")
    where = f"{file}: word {raw.get('id', index + 1)}"
    pattern = raw.get("word")
    match = raw.get("match", "word")
    if not isinstance(pattern, str) or not pattern or match not in MODES:
        raise RuleError(f"{where}: 'word' is a regex and 'match' one of {', '.join(MODES)}")
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise RuleError(f"{where}: word does not compile: {exc}") from None
    examples = _strings(raw, where, "examples")
    if not examples:
        raise RuleError(f"{where}: a word needs examples")
    return Word(
        str(raw.get("id", pattern)),
        pattern,
        match,
        examples,
        _strings(raw, where, "negative_examples"),
    )


def _known(raw: Any, file: Path, index: int) -> KnownExample:
    where = f"{file}: known example #{index + 1}"
    if not isinstance(raw, dict) or not isinstance(raw.get("value"), str) or not raw["value"]:
        raise RuleError(f"{where}: a known example has a 'value', a 'vendor' and 'references'")
    refs = _strings(raw, where, "references")
    if not refs:
        raise RuleError(f"{where}: a known example names the page that publishes it")
    return KnownExample(raw["value"], str(raw.get("vendor", "")), refs)


@cache
def builtin_placeholders() -> Placeholders:
    """The shipped data (read once per process; parsed once per content, then cached)."""
    file = builtin_dir() / FILE_NAME
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise RuleError(f"{file}: cannot read placeholder data: {exc}") from None
    return filecache.load(file, content, _CACHE_VERSION, load_placeholders, _is_placeholders)


def _is_placeholders(value: object) -> bool:
    return isinstance(value, Placeholders)
