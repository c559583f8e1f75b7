"""Kubernetes objects: Secrets (base64 ``data`` decoded, ``stringData``), ConfigMaps, env
literals of Pod templates, kubeconfig credentials; ``List`` objects are opened."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from leakscan.sources.manifests.pairs import Pair, Problem, literal, utf8
from leakscan.sources.manifests.yamltree import LList, LMap, Scalar, Tree

WORKLOADS = {
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "PodTemplate",
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
KUBECONFIG_B64 = ("client-key-data",)
KUBECONFIG_PLAIN = ("token", "password")


def is_k8s(doc: Tree) -> bool:
    return (
        isinstance(doc, LMap)
        and _text(doc.get("apiVersion")) is not None
        and _text(doc.get("kind")) is not None
    )


def k8s_pairs(doc: LMap, handled: set[int], prefix: str = "") -> Iterator[Pair | Problem]:
    """Pairs of one Kubernetes object (``handled`` collects the scalars consumed here)."""
    kind = _text(doc.get("kind")) or ""
    if kind.endswith("List") and isinstance(doc.get("items"), LList):
        for i, item in enumerate(doc["items"]):
            if isinstance(item, LMap):
                yield from k8s_pairs(item, handled, f"{prefix}items[{i}].")
        return
    if kind == "Secret":
        yield from _secret(doc, handled, prefix)
    elif kind == "ConfigMap":
        yield from _plain_map(doc, "data", "k8s-configmap", handled, prefix)
    elif kind == "Config":
        yield from _kubeconfig(doc, handled, prefix)
    else:
        spec = _pod_spec(doc, kind)
        if spec is not None:
            yield from _env(spec[0], f"{prefix}{spec[1]}", f"k8s-{kind.lower()}", handled)


def _text(node: object) -> str | None:
    return node.value if isinstance(node, Scalar) else None


def _secret(doc: LMap, handled: set[int], prefix: str) -> Iterator[Pair | Problem]:
    data = doc.get("data")
    if isinstance(data, LMap):
        for key, node in data.items():
            if not isinstance(node, Scalar):
                continue
            handled.add(id(node))
            if not literal(node.value):
                continue
            path = f"{prefix}data.{key}"
            decoded = b64(node.value or "")
            if decoded is None:
                yield Problem("invalid base64 in a Secret's data value", path)
                continue
            if decoded.strip():
                yield Pair(key, path, decoded, data.lines[key], "k8s-secret")
    yield from _plain_map(doc, "stringData", "k8s-secret", handled, prefix)


def b64(text: str) -> bytes | None:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _plain_map(
    doc: LMap, field: str, kind: str, handled: set[int], prefix: str
) -> Iterator[Pair | Problem]:
    data = doc.get(field)
    if not isinstance(data, LMap):
        return
    for key, node in data.items():
        if isinstance(node, Scalar):
            handled.add(id(node))
            if literal(node.value):
                yield Pair(key, f"{prefix}{field}.{key}", utf8(node.value), data.lines[key], kind)


def _pod_spec(doc: LMap, kind: str) -> tuple[LMap, str] | None:
    if kind in ("Pod",):
        route = ["spec"]
    elif kind == "CronJob":
        route = ["spec", "jobTemplate", "spec", "template", "spec"]
    elif kind in WORKLOADS:
        route = ["template", "spec"] if kind == "PodTemplate" else ["spec", "template", "spec"]
    else:
        return None
    node: object = doc
    for step in route:
        if not isinstance(node, LMap):
            return None
        node = node.get(step)
    return (node, ".".join(route)) if isinstance(node, LMap) else None


def _env(spec: LMap, where: str, kind: str, handled: set[int]) -> Iterator[Pair | Problem]:
    for group in CONTAINER_LISTS:
        containers = spec.get(group)
        if not isinstance(containers, LList):
            continue
        for i, container in enumerate(containers):
            env = container.get("env") if isinstance(container, LMap) else None
            if not isinstance(env, LList):
                continue
            for entry in env:
                if not isinstance(entry, LMap) or "valueFrom" in entry:
                    continue  # secretKeyRef / configMapKeyRef: a reference, not a literal
                name, value = _text(entry.get("name")), entry.get("value")
                if name is None or not isinstance(value, Scalar):
                    continue
                handled.add(id(value))
                if literal(value.value):
                    yield Pair(
                        name,
                        f"{where}.{group}[{i}].env[{name}]",
                        utf8(value.value),
                        entry.lines["value"],
                        kind,
                    )


def _kubeconfig(doc: LMap, handled: set[int], prefix: str) -> Iterator[Pair | Problem]:
    users = doc.get("users")
    if not isinstance(users, LList):
        return
    for i, entry in enumerate(users):
        user = entry.get("user") if isinstance(entry, LMap) else None
        if not isinstance(user, LMap):
            continue
        label = _text(entry.get("name")) or str(i)
        for key, node in user.items():
            if not isinstance(node, Scalar) or key not in KUBECONFIG_B64 + KUBECONFIG_PLAIN:
                continue
            handled.add(id(node))
            if not literal(node.value):
                continue
            path = f"{prefix}users[{label}].user.{key}"
            if key in KUBECONFIG_B64:
                decoded = b64(node.value or "")
                if decoded is None:
                    yield Problem("invalid base64 in a kubeconfig value", path)
                    continue
                yield Pair(key, path, decoded, user.lines[key], "kubeconfig")
            else:
                yield Pair(key, path, utf8(node.value), user.lines[key], "kubeconfig")
