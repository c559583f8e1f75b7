"""docker-compose files: ``environment`` and ``build.args`` of every service, as a list
(``- KEY=value``) or a map; anchors, aliases and merge keys are already resolved."""

from __future__ import annotations

from collections.abc import Iterator

from leakscan.sources.manifests.pairs import Pair, Problem, literal, utf8
from leakscan.sources.manifests.yamltree import LList, LMap, Scalar, Tree

SERVICE_KEYS = {"image", "build", "environment", "env_file", "command", "ports", "volumes"}


def is_compose(doc: Tree) -> bool:
    services = doc.get("services") if isinstance(doc, LMap) else None
    if not isinstance(services, LMap) or not services:
        return False
    return any(isinstance(s, LMap) and SERVICE_KEYS & s.keys() for s in services.values())


def compose_pairs(doc: LMap, handled: set[int]) -> Iterator[Pair | Problem]:
    services = doc.get("services")
    if not isinstance(services, LMap):
        return
    for name, service in services.items():
        if not isinstance(service, LMap):
            continue
        yield from _entries(service.get("environment"), f"services.{name}.environment", handled)
        build = service.get("build")
        if isinstance(build, LMap):
            yield from _entries(build.get("args"), f"services.{name}.build.args", handled)


def _entries(node: object, where: str, handled: set[int]) -> Iterator[Pair]:
    if isinstance(node, LMap):
        for key, value in node.items():
            if isinstance(value, Scalar):
                handled.add(id(value))
                if literal(value.value):
                    yield Pair(
                        key, f"{where}[{key}]", utf8(value.value), node.lines[key], "compose"
                    )
    elif isinstance(node, LList):
        for item in node:
            if not isinstance(item, Scalar) or item.value is None:
                continue
            handled.add(id(item))
            key, sep, value = item.value.partition("=")
            if sep and literal(value):  # KEY alone: the value comes from the host environment
                key = key.strip()
                yield Pair(key, f"{where}[{key}]", utf8(value), item.line, "compose")
