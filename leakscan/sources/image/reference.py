"""Image references in skopeo's transport words → the store that reads them.

``docker-archive:PATH[:NAME[:TAG]]`` (or a bare ``*.tar`` path), ``oci:DIR[:TAG]``,
``oci-archive:PATH[:TAG]``, ``docker-daemon:NAME[:TAG]``; ``docker://NAME`` and
``registry/name:tag`` go to the registry store. A bare ``name:tag`` is the local Docker
daemon's image when a reachable daemon holds it (its locations then say ``docker-daemon:``),
else Docker Hub's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from leakscan.sources.image.interface import ImageError, ImageStore
from leakscan.sources.interface import SourceOptions

TRANSPORTS = ("docker-archive", "oci", "oci-archive", "docker-daemon", "docker")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reference:
    transport: str
    path: str  # file or directory for local transports, image name otherwise
    tag: str | None = None  # oci/oci-archive tag, docker-archive image name


def _split_path(rest: str) -> tuple[str, str | None]:
    """``PATH[:SUFFIX]``: the longest existing path prefix wins (paths may contain ':')."""
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    parts = rest.split(":")
    for cut in range(len(parts) - 1, 0, -1):
        head = ":".join(parts[:cut])
        if os.path.exists(head):
            return head, ":".join(parts[cut:]) or None
    return rest, None


def parse_reference(ref: str) -> Reference:
    if not ref:
        raise ImageError("empty image reference")
    if ref.startswith("docker://"):
        return Reference("docker", ref.removeprefix("docker://"))
    transport, sep, rest = ref.partition(":")
    if sep and transport in ("docker-archive", "oci", "oci-archive"):
        if not rest:
            raise ImageError(f"{ref}: missing path after {transport}:")
        path, tag = _split_path(rest)
        return Reference(transport, path, tag)
    if sep and transport == "docker-daemon":
        if not rest:
            raise ImageError(f"{ref}: missing image name after docker-daemon:")
        return Reference("docker-daemon", rest)
    if ref.endswith(".tar") or (os.path.isfile(ref) and not os.path.isdir(ref)):
        return Reference("docker-archive", ref)
    if os.path.isdir(ref) and os.path.isfile(os.path.join(ref, "index.json")):
        return Reference("oci", ref)
    return Reference("docker", ref)


@dataclass(frozen=True, slots=True)
class RegistryLogin:
    """How to reach registries named in references (the CLI fills it from
    ``--username``/``--password-stdin``/``--insecure`` and the ``LEAKSCAN_REGISTRY_*``
    variables). Without a username the registry client falls back to ~/.docker/config.json."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False


def open_store(ref: str, options: SourceOptions, login: RegistryLogin | None = None) -> ImageStore:
    """The store for a reference (raises ImageError when it cannot be opened)."""
    parsed = parse_reference(ref)
    if parsed.transport == "docker-archive":
        from leakscan.sources.image.docker_archive import DockerArchiveStore

        _must_exist(parsed.path, ref, want_dir=False)
        return DockerArchiveStore(Path(parsed.path), ref, parsed.tag)
    if parsed.transport in ("oci", "oci-archive"):
        from leakscan.sources.image.blobs import DirFiles, TarFiles
        from leakscan.sources.image.oci import OciStore

        want_dir = parsed.transport == "oci"
        _must_exist(parsed.path, ref, want_dir=want_dir)
        files = DirFiles(Path(parsed.path)) if want_dir else TarFiles(Path(parsed.path))
        return OciStore(files, ref, parsed.tag)
    if parsed.transport == "docker-daemon":
        from leakscan.sources.image.daemon import DaemonStore

        return DaemonStore(parsed.path, ref)
    if is_bare_name(ref):  # `myapp:1.0`: the local daemon's image first, as docker run does
        from leakscan.sources.image.daemon import DaemonStore, in_daemon

        if in_daemon(ref):
            log.info("%s: found in the local docker daemon (docker:// reads the registry)", ref)
            return DaemonStore(ref, f"docker-daemon:{ref}")
    try:
        from leakscan.sources.image.registry import RegistryStore
    except ModuleNotFoundError as exc:
        if exc.name != "leakscan.sources.image.registry":
            raise
        raise ImageError(f"{ref}: registry support not available") from None
    if login is None:
        return RegistryStore(ref, options)
    from leakscan.sources.registry.auth import Credentials, RegistryAuth

    creds = (
        Credentials(login.username, login.password or "")
        if login.username and login.password is not None
        else None
    )
    return RegistryStore(ref, options, auth=RegistryAuth(creds), insecure=login.insecure)


def is_bare_name(ref: str) -> bool:
    """A reference without transport or registry host (``myapp:1.0``, ``org/app``): what a
    Docker daemon may hold under that name (``docker://`` or a host always means a registry)."""
    if "://" in ref or ref.startswith(TRANSPORTS_PREFIXES) or not ref or ref[0] in "./~":
        return False
    first, sep, _ = ref.partition("/")
    return not (sep and ("." in first or ":" in first or first == "localhost"))


TRANSPORTS_PREFIXES = tuple(f"{t}:" for t in TRANSPORTS)


def _must_exist(path: str, ref: str, want_dir: bool) -> None:
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{ref}: no such {'directory' if want_dir else 'file'}: {path}")
    if want_dir and not p.is_dir():
        raise ImageError(f"{ref}: {path} is not a directory (an OCI layout)")
    if not want_dir and p.is_dir():
        raise ImageError(f"{ref}: {path} is a directory, not an archive")
