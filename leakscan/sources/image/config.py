"""An image's configuration as blobs: Env, Labels, Cmd/Entrypoint, User, annotations, history.

Each value is its own blob with the key name as ``context`` (``DB_PASSWORD=x`` gives the
generic detectors ``x`` under ``DB_PASSWORD``), plus the whole entry line as written. History
``created_by`` lines carry build args (``|2 NPM_TOKEN=… /bin/sh -c …``) and ``ARG``/``ENV``
values; each is scanned whole and each build arg on its own with its name as context.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from leakscan.model import Blob, Provenance

# "|2 A=1 B=two /bin/sh -c ..." : the build args docker records before a RUN command
_BUILD_ARGS = re.compile(r"^\|(\d+)\s+(.*)$", re.S)


def layer_history(config: Mapping[str, Any], layer_count: int) -> list[str | None]:
    """``created_by`` of the history entry that made each layer (None when unknown)."""
    history = config.get("history")
    if not isinstance(history, list):
        return [None] * layer_count
    made = [
        str(h.get("created_by", "")) or None
        for h in history
        if isinstance(h, dict) and not h.get("empty_layer")
    ]
    if len(made) != layer_count:
        return [None] * layer_count
    return made


def build_args(created_by: str) -> list[tuple[str, str]]:
    """The ``NAME=value`` build args at the start of a history line (``|N A=1 B=2 cmd``)."""
    m = _BUILD_ARGS.match(created_by)
    if not m:
        return []
    count = int(m.group(1))
    try:
        words = shlex.split(m.group(2))
    except ValueError:
        words = m.group(2).split()
    out = []
    for word in words[:count]:
        name, sep, value = word.partition("=")
        if sep:
            out.append((name, value))
    return out


def config_blobs(
    config: Mapping[str, Any],
    image: str,
    image_digest: str | None,
    annotations: Mapping[str, str] | None = None,
) -> Iterator[Blob]:
    """The blobs of one image configuration."""

    def prov(field: str) -> Provenance:
        return Provenance(
            "image-config", {"image": image, "image_digest": image_digest, "field": field}
        )

    inner = config.get("config") or config.get("Config") or {}
    if not isinstance(inner, Mapping):
        inner = {}
    # every value may be any JSON (a hostile or broken configuration): only lists and maps
    # are walked, anything else is no entry
    env = inner.get("Env")
    for raw_entry in env if isinstance(env, list) else []:
        entry = str(raw_entry)
        name, sep, value = entry.partition("=")
        p = prov(f"Env[{name}]")
        if sep and value:
            yield Blob(p, data=value.encode(), context=name)
        yield Blob(p, data=entry.encode())
    labels = inner.get("Labels")
    for key, value in labels.items() if isinstance(labels, Mapping) else ():
        p = prov(f"Labels[{key}]")
        if value:
            yield Blob(p, data=str(value).encode(), context=str(key))
            yield Blob(p, data=f"{key}={value}".encode())
    for key in ("Cmd", "Entrypoint"):
        command = inner.get(key)
        if command:
            text = " ".join(map(str, command)) if isinstance(command, list) else str(command)
            yield Blob(prov(key), data=text.encode())
    if inner.get("User"):
        yield Blob(prov("User"), data=str(inner["User"]).encode(), context="User")
    for key, value in (annotations or {}).items():
        if value:
            p = prov(f"Annotations[{key}]")
            yield Blob(p, data=str(value).encode(), context=key)
            yield Blob(p, data=f"{key}={value}".encode())
    history = config.get("history")
    for i, h in enumerate(history if isinstance(history, list) else []):
        if not isinstance(h, Mapping) or not h.get("created_by"):
            continue
        line = str(h["created_by"])
        p = prov(f"History[{i}].created_by")
        yield Blob(p, data=line.encode())
        for name, value in build_args(line):
            if value:
                yield Blob(p, data=value.encode(), context=name)


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    from leakscan.sources.image.blobs import load_json

    return load_json(data, f"{where}: image configuration")
