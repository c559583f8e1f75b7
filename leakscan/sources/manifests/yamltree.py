"""YAML documents as plain trees that remember the line of every key and value.

``load_documents(text)`` composes every document (``yaml.compose_all`` with the safe loader,
the C one when present) and converts the node graph into :class:`LMap` / :class:`LList` /
:class:`Scalar` values. Aliases are expanded while converting, under a budget: a document
whose aliases expand to more than ``max_expanded`` nodes (a "billion laughs" YAML bomb) or
nest deeper than ``max_depth`` raises :class:`YamlError` instead of eating the machine; so does a
text that nests deeper than that before composing (checked first: ``leakscan.yamldepth``).
Merge keys (``<<: *defaults``) are applied; merged keys keep the line where they are written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

MAX_EXPANDED = 100_000  # nodes reached again through aliases, per file
MAX_DEPTH = 200

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """The text is not YAML this module will read (the message says why, one line)."""


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar as written (``None`` for null), with its 1-based line."""

    value: str | None
    line: int


class LMap(dict[str, Any]):
    """A mapping; ``lines[key]`` is the 1-based line of the key."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[str, int] = {}


class LList(list[Any]):
    """A sequence; ``line`` is where it starts."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line


Tree = LMap | LList | Scalar


def load_documents(
    text: str, max_expanded: int = MAX_EXPANDED, max_depth: int = MAX_DEPTH
) -> list[Tree]:
    """Every document of a YAML stream as a tree (empty documents left out)."""
    import yaml  # a scan without YAML files does not import it

    from leakscan.yamldepth import SAFE_LOADER, TooDeep, check_depth

    try:
        check_depth(text, max_depth, SAFE_LOADER)  # libyaml's composer would overflow the C stack
        nodes = list(yaml.compose_all(text, Loader=SAFE_LOADER))
    except TooDeep as exc:
        raise YamlError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {_one_line(exc)}") from None
    except (ValueError, RecursionError) as exc:
        raise YamlError(f"invalid YAML: {type(exc).__name__}") from None
    converter = _Converter(yaml, max_expanded, max_depth)
    return [converter.convert(n, 0) for n in nodes if n is not None]


def _one_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{problem}{where}"


class _Converter:
    def __init__(self, yaml_module: Any, max_expanded: int, max_depth: int) -> None:
        self.scalar_node = yaml_module.ScalarNode
        self.sequence_node = yaml_module.SequenceNode
        self.mapping_node = yaml_module.MappingNode
        self.max_expanded = max_expanded
        self.max_depth = max_depth
        self.seen: set[int] = set()
        self.expanded = 0
        # one Scalar per scalar node, so a value reached through an alias is the same object
        self.scalars: dict[int, Scalar] = {}

    def convert(self, node: yaml.Node, depth: int) -> Tree:
        if depth > self.max_depth:
            raise YamlError(f"nested deeper than {self.max_depth} levels")
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > self.max_expanded:
                raise YamlError(
                    f"aliases expand to more than {self.max_expanded} nodes (a YAML bomb?)"
                )
        else:
            self.seen.add(id(node))
        line = node.start_mark.line + 1
        if isinstance(node, self.scalar_node):
            scalar = self.scalars.get(id(node))
            if scalar is None:
                scalar = Scalar(None if node.tag == _NULL else str(node.value), line)
                self.scalars[id(node)] = scalar
            return scalar
        if isinstance(node, self.sequence_node):
            seq = LList(line)
            seq.extend(self.convert(item, depth + 1) for item in node.value)
            return seq
        mapping = LMap(line)
        assert isinstance(node, self.mapping_node)  # the only other node kind
        for key, value, key_line in self._pairs(node, depth):
            mapping[key] = value
            mapping.lines[key] = key_line
        return mapping

    def _pairs(self, node: yaml.MappingNode, depth: int) -> Iterator[tuple[str, Tree, int]]:
        merged: list[tuple[str, Tree, int]] = []
        own: list[tuple[str, Tree, int]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources = (
                    value_node.value if isinstance(value_node, self.sequence_node) else [value_node]
                )
                for src in sources:
                    sub = self.convert(src, depth + 1)
                    if isinstance(sub, LMap):
                        merged.extend((k, v, sub.lines[k]) for k, v in sub.items())
                continue
            key = key_node.value if isinstance(key_node, self.scalar_node) else "?"
            value = self.convert(value_node, depth + 1)
            own.append((str(key), value, key_node.start_mark.line + 1))
        own_keys = {k for k, _, _ in own}
        yield from (m for m in merged if m[0] not in own_keys)
        yield from own
