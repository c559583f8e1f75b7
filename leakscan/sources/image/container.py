"""``scan container``: a container's environment, command line and labels, running or stopped.

Read through the docker SDK (``containers.get(ID|NAME).attrs``) or from ``docker inspect``
JSON in a file or on standard input; both give the same locations.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.image.interface import ImageError
from leakscan.sources.interface import ScanContext, Source, SourceOptions

MAX_INSPECT_BYTES = 64 * 1024 * 1024


def container_blobs(attrs: Mapping[str, Any]) -> Iterator[Blob | Skip]:
    """The blobs of one container's inspect data; a field of the wrong JSON type is skipped
    with its reason (inspect JSON from a file is untrusted input), the others still read."""
    name = str(attrs.get("Name") or attrs.get("Id") or "?").lstrip("/")
    config = attrs.get("Config") or {}
    if not isinstance(config, Mapping):
        yield Skip(f"container {name}", "Config is not a JSON object")
        return
    env = config.get("Env") or []
    if not isinstance(env, list):
        yield Skip(f"container {name}", "Config.Env is not a JSON list")
        env = []
    for raw_entry in env:
        entry = str(raw_entry)
        var, sep, value = entry.partition("=")
        prov = Provenance("container-env", {"container": name, "name": var})
        if sep and value:
            yield Blob(prov, data=value.encode(), context=var)
        yield Blob(prov, data=entry.encode())
    for key in ("Cmd", "Entrypoint"):
        command = config.get(key)
        if command:
            text = " ".join(map(str, command)) if isinstance(command, list) else str(command)
            yield Blob(
                Provenance("container-config", {"container": name, "field": key}),
                data=text.encode(),
            )
    labels = config.get("Labels") or {}
    if not isinstance(labels, Mapping):
        yield Skip(f"container {name}", "Config.Labels is not a JSON object")
        labels = {}
    for key, value in labels.items():
        if value:
            prov = Provenance("container-config", {"container": name, "field": f"Labels[{key}]"})
            yield Blob(prov, data=str(value).encode(), context=str(key))
            yield Blob(prov, data=f"{key}={value}".encode())


class ContainerSource(Source):
    """A container of the docker daemon, by id or name."""

    def __init__(self, target: str, options: SourceOptions) -> None:
        self.target = target
        self.name = target
        self.options = options

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        import docker.errors

        from leakscan.sources.image.daemon import docker_client

        client = docker_client()
        try:
            attrs = client.containers.get(self.target).attrs
        except docker.errors.NotFound:
            raise ImageError(f"{self.target}: no such container") from None
        except docker.errors.DockerException as exc:
            raise ImageError(f"{self.target}: {' '.join(str(exc).split())[:200]}") from None
        finally:
            client.close()
        yield from container_blobs(attrs)


class InspectSource(Source):
    """``docker inspect`` JSON (one object or a list) from a file, or ``-`` for stdin."""

    def __init__(self, target: str, options: SourceOptions) -> None:
        self.target = target
        self.name = target
        self.options = options

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        where = "standard input" if self.target == "-" else self.target
        try:
            if self.target == "-":
                data = sys.stdin.buffer.read(MAX_INSPECT_BYTES + 1)
            else:
                with Path(self.target).open("rb") as handle:
                    data = handle.read(MAX_INSPECT_BYTES + 1)
        except OSError as exc:
            raise ImageError(f"{where}: cannot read: {exc.strerror}") from None
        if len(data) > MAX_INSPECT_BYTES:
            raise ImageError(f"{where}: docker inspect JSON larger than {MAX_INSPECT_BYTES} bytes")
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ImageError(f"{where}: not docker inspect JSON") from None
        items = doc if isinstance(doc, list) else [doc]
        if not all(isinstance(i, dict) for i in items):
            raise ImageError(f"{where}: not docker inspect JSON (objects expected)")
        if not any("Config" in i or "Id" in i for i in items):
            raise ImageError(f"{where}: not docker inspect JSON (no Config or Id)")
        for item in items:
            yield from container_blobs(item)


def container_source(target: str, options: SourceOptions) -> Source:
    """``-`` or an existing file: inspect JSON; anything else: a container id or name."""
    if target == "-" or Path(target).is_file():
        return InspectSource(target, options)
    return ContainerSource(target, options)
