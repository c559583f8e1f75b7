"""Which parser a file gets, by name and content (or forced with ``--as``)."""

from __future__ import annotations

import re

FORCED = {"k8s", "compose", "dockerfile", "dotenv", "helm"}

_VALUES = re.compile(r"^values[\w.\-]*\.ya?ml$", re.I)
_COMPOSE = re.compile(r"^(docker-)?compose[\w.\-]*\.ya?ml$", re.I)
_K8S_HEAD = re.compile(rb"^apiVersion:\s*\S+", re.M)
_K8S_KIND = re.compile(rb"^kind:\s*\S+", re.M)


def basename(path: str) -> str:
    return path.rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def is_dotenv_name(name: str) -> bool:
    lower = name.lower()
    return lower in (".env", ".envrc") or lower.startswith(".env.") or lower.endswith(".env")


_NOT_DOCKERFILE = (
    ".go",
    ".py",
    ".md",
    ".rs",
    ".js",
    ".ts",
    ".java",
    ".txt",
    ".json",
    ".yaml",
    ".yml",
    ".sh",
    ".rb",
)


def is_dockerfile_name(name: str) -> bool:
    """``Dockerfile``, ``Dockerfile.prod``, ``Dockerfile-dev``, ``app.dockerfile``,
    ``Containerfile`` (not ``dockerfile_parser.go`` nor ``Dockerfile.md``)."""
    lower = name.lower()
    if lower.endswith(".dockerfile"):
        return True
    if lower.endswith(_NOT_DOCKERFILE):
        return False
    return any(
        lower == base or lower.startswith((base + ".", base + "-", base + "_"))
        for base in ("dockerfile", "containerfile")
    )


def detect(path: str, data: bytes, force: str | None = None) -> tuple[str, str | None] | None:
    """(parser, hint) for a file, or None. Parsers: yaml, json, toml, ini, dockerfile, dotenv;
    the hint for yaml is k8s, compose or helm (what the documents are taken for)."""
    if force:
        if force in ("dockerfile", "dotenv"):
            return force, None
        return "yaml", force
    name = basename(path)
    lower = name.lower()
    if is_dockerfile_name(name):
        return "dockerfile", None
    if is_dotenv_name(name):
        return "dotenv", None
    if lower.endswith((".yaml", ".yml")):
        if _VALUES.match(name):
            return "yaml", "helm"
        if _COMPOSE.match(name):
            return "yaml", "compose"
        return "yaml", None
    if lower.endswith(".json"):
        return "json", None
    if lower.endswith(".toml"):
        return "toml", None
    if lower.endswith((".ini", ".cfg", ".conf", ".properties")):
        return "ini", None
    if lower == "kubeconfig" or path.endswith(".kube/config"):
        return "yaml", "k8s"
    if "." not in name and _K8S_HEAD.search(data[:4096]) and _K8S_KIND.search(data[:4096]):
        return "yaml", "k8s"
    return None
