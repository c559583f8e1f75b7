"""The Docker daemon as the watch sees it: a small protocol, and its docker SDK implementation.

The loop and the backfill only talk to a :class:`Daemon`; tests give them a fake one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from leakscan.errors import LeakscanError

log = logging.getLogger(__name__)


class DaemonGone(LeakscanError):
    """The daemon cannot be reached (not started, restarting, socket gone)."""


class Daemon(Protocol):
    def events(self) -> Iterable[Mapping[str, Any]]:
        """The event stream from now on (closable: ``close()`` ends a blocked read)."""
        ...

    def image_ids(self) -> list[str]:
        """Ids of the images on the host now (intermediate build images left out)."""
        ...

    def container_ids(self) -> list[str]:
        """Ids of every container, running or not."""
        ...

    def image(self, ref: str) -> Mapping[str, Any] | None:
        """An image's inspect data, ``None`` when it is gone."""
        ...

    def container(self, ref: str) -> Mapping[str, Any] | None:
        """A container's inspect data, ``None`` when it is gone."""
        ...

    def history(self, ref: str) -> list[Mapping[str, Any]] | None:
        """An image's history (``docker history``: newest first), ``None`` when unknown."""
        ...

    def alive(self) -> bool:
        """Whether the daemon still answers."""
        ...

    def close(self) -> None: ...


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


class DockerDaemon:
    """The daemon of ``DOCKER_HOST`` (or the default socket), through the docker SDK."""

    def __init__(self) -> None:
        try:
            import docker
        except ImportError:  # pragma: no cover - docker is a dependency
            raise DaemonGone("the docker SDK is not installed") from None
        try:
            self._client: Any = docker.from_env(timeout=60)
            self._client.ping()
        except Exception as exc:  # DockerException, requests' connection errors
            raise DaemonGone(f"cannot reach the docker daemon: {_short(exc)}") from None
        self.host = str(getattr(self._client.api, "base_url", ""))

    def events(self) -> Iterable[Mapping[str, Any]]:
        try:
            stream: Iterable[Mapping[str, Any]] = self._client.events(
                decode=True, filters={"type": ["image", "container"]}
            )
        except Exception as exc:
            raise DaemonGone(f"cannot follow the docker daemon's events: {_short(exc)}") from None
        return stream

    def image_ids(self) -> list[str]:
        try:
            return [str(i["Id"]) for i in self._client.api.images(all=False)]
        except Exception as exc:
            raise DaemonGone(f"cannot list the images: {_short(exc)}") from None

    def container_ids(self) -> list[str]:
        try:
            return [str(c["Id"]) for c in self._client.api.containers(all=True)]
        except Exception as exc:
            raise DaemonGone(f"cannot list the containers: {_short(exc)}") from None

    def image(self, ref: str) -> Mapping[str, Any] | None:
        return self._inspect(self._client.api.inspect_image, ref)

    def container(self, ref: str) -> Mapping[str, Any] | None:
        return self._inspect(self._client.api.inspect_container, ref)

    def _inspect(self, inspect: Any, ref: str) -> Mapping[str, Any] | None:
        import docker.errors

        try:
            attrs: Mapping[str, Any] = inspect(ref)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            log.debug("inspect %s failed: %s", ref, _short(exc))
            return None
        except Exception as exc:  # the connection itself
            raise DaemonGone(f"cannot reach the docker daemon: {_short(exc)}") from None
        return attrs

    def history(self, ref: str) -> list[Mapping[str, Any]] | None:
        found = self._inspect(self._client.api.history, ref)
        return list(found) if isinstance(found, list) else None

    def alive(self) -> bool:
        try:
            self._client.ping()
        except Exception:
            return False
        return True

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # best effort
            log.debug("closing the docker client failed", exc_info=True)
