"""Generic config files: every scalar leaf whose key name looks secret-ish.

Each value's context (what the engine's key-name rules see) is its full key path
(``datadog.api_key``, ``spring.datasource.password``, ``servers[0].pass``), so a rule can ask
for the block a key sits in as well as the key.

YAML trees carry their lines; JSON and TOML are parsed by the standard library and each key is
then located in the text, in document order; INI-style files are read line by line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from leakscan.sources.manifests.pairs import Pair, Problem, literal, secretish, utf8
from leakscan.sources.manifests.yamltree import LList, LMap, Scalar, Tree

MAX_DEPTH = 200


def tree_pairs(tree: Tree, kind: str, handled: set[int], prefix: str = "") -> Iterator[Pair]:
    """Secret-ish leaves of a YAML tree not already consumed by a specific parser."""
    stack: list[tuple[Tree, str]] = [(tree, prefix)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, LMap):
            children = []
            for key, value in node.items():
                sub = f"{path}.{key}" if path else key
                if isinstance(value, Scalar):
                    if id(value) not in handled and secretish(key) and literal(value.value):
                        yield Pair(sub, sub, utf8(value.value), node.lines[key], kind)
                else:
                    children.append((value, sub))
            stack.extend(reversed(children))
        elif isinstance(node, LList):
            stack.extend(reversed([(v, f"{path}[{i}]") for i, v in enumerate(node)]))


def _leaves(obj: Any, path: str, depth: int = 0) -> Iterator[tuple[str, str, Any]]:
    """(key, path, value) of every scalar under a mapping key, in document order."""
    if depth > MAX_DEPTH:
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict | list):
                yield from _leaves(value, sub, depth + 1)
            else:
                yield str(key), sub, value
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            if isinstance(value, dict | list):
                yield from _leaves(value, f"{path}[{i}]", depth + 1)


class _Locator:
    """Finds the line of each key in turn, moving forward through the text."""

    def __init__(self, text: str, key_pattern: str) -> None:
        self.text = text
        self.key_pattern = key_pattern
        self.cursor = 0

    def line(self, key: str) -> int:
        pattern = re.compile(self.key_pattern.format(key=re.escape(key)), re.M)
        m = pattern.search(self.text, self.cursor) or pattern.search(self.text)
        if m is None:
            return 1
        self.cursor = m.end()
        return self.text.count("\n", 0, m.start()) + 1


def _scalar_pairs(obj: Any, text: str, key_pattern: str, kind: str) -> Iterator[Pair]:
    locator = _Locator(text, key_pattern)
    for key, path, value in _leaves(obj, ""):
        if not secretish(key) or isinstance(value, bool) or value is None:
            continue
        value_text = str(value)
        if literal(value_text):
            yield Pair(path, path, utf8(value_text), locator.line(key), kind)


def json_pairs(text: str) -> Iterator[Pair | Problem]:
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield Problem(f"invalid JSON: {str(exc).splitlines()[0][:120]}")
        return
    yield from _scalar_pairs(obj, text, r'"{key}"\s*:', "json")


def toml_pairs(text: str) -> Iterator[Pair | Problem]:
    import tomllib  # a scan without TOML files does not import it

    try:
        obj = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        yield Problem(f"invalid TOML: {str(exc).splitlines()[0][:120]}")
        return
    yield from _scalar_pairs(obj, text, r"""^\s*(?:{key}|"{key}"|'{key}')\s*=""", "toml")


_INI_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_INI_ASSIGN = re.compile(r"^\s*([^=:#;\s][^=:]*?)\s*[=:]\s*(.*?)\s*$")


def ini_pairs(text: str) -> Iterator[Pair]:
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", ";")):
            continue
        m = _INI_SECTION.match(line)
        if m:
            section = m.group(1).strip()
            continue
        m = _INI_ASSIGN.match(line)
        if not m or not secretish(m.group(1)):
            continue
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if literal(value):
            path = f"{section}.{key}" if section else key
            yield Pair(path, path, utf8(value), number, "ini")
