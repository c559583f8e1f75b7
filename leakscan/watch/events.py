"""Daemon events → work: which image or container to look at, through a bounded queue.

A follower thread reads the event stream and puts a :class:`Target` per interesting event in
an :class:`EventQueue`. The queue holds at most ``limit`` targets; an event that finds it full
is dropped and counted (the loop reports the count and backfills, which catches what was
dropped). When the stream ends, for whatever reason, the follower puts :data:`DISCONNECTED`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: image actions after which an image may be new to the host (a build ends in ``tag``, or in
#: ``create`` with BuildKit's image exporter); ``push`` is kept: an image pushed from here
#: leaves the host with whatever it carries
IMAGE_ACTIONS = frozenset({"pull", "load", "import", "tag", "push", "create", "commit"})
CONTAINER_ACTIONS = frozenset({"create"})


@dataclass(frozen=True, slots=True)
class Target:
    """An image or a container to scan, by the reference the daemon resolves."""

    kind: str  # "image" | "container"
    ref: str  # image id or name; container id


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The event stream ended (the daemon went away, or the watch is stopping)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The watch was asked to stop."""


def target_of(event: Mapping[str, Any]) -> Target | None:
    """The image or container an event is about, when it may bring something new."""
    kind = event.get("Type")
    action = str(event.get("Action") or event.get("status") or "")
    actor = event.get("Actor") or {}
    ref = str(actor.get("ID") or event.get("id") or "")
    if not ref:
        return None
    if kind == "image" and action in IMAGE_ACTIONS:
        return Target("image", ref)
    if kind == "container" and action in CONTAINER_ACTIONS:
        return Target("container", ref)
    if kind == "container" and action == "commit":  # docker commit: the new image
        image = (actor.get("Attributes") or {}).get("imageID")
        return Target("image", str(image)) if image else None
    return None


Item = Target | Disconnected | Stop


class EventQueue:
    """Targets waiting to be scanned: bounded, dropping (and counting) what does not fit.

    Control items (:class:`Disconnected`, :class:`Stop`) are never dropped. ``put_control``
    may be called from a signal handler in the thread that waits in :meth:`get` (the lock is
    reentrant)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._items: deque[Item] = deque()
        self._cond = threading.Condition(threading.RLock())
        self._queued = 0
        self.dropped = 0

    def put(self, target: Target) -> bool:
        with self._cond:
            if self._queued >= self.limit:
                self.dropped += 1
                return False
            self._items.append(target)
            self._queued += 1
            self._cond.notify()
            return True

    def put_control(self, item: Disconnected | Stop) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> Item | None:
        """The next item; ``None`` after ``timeout`` seconds without one."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            if isinstance(item, Target):
                self._queued -= 1
            return item

    def take_dropped(self) -> int:
        with self._cond:
            dropped, self.dropped = self.dropped, 0
            return dropped


class Follower:
    """A thread that feeds a daemon's events into a queue until the stream ends."""

    def __init__(self, stream: Iterable[Mapping[str, Any]], queue: EventQueue) -> None:
        self._stream = stream
        self._queue = queue
        self._thread = threading.Thread(target=self._run, name="leakscan-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        reason = "event stream ended"
        try:
            for event in self._stream:
                target = target_of(event)
                if target is not None:
                    self._queue.put(target)
        except Exception as exc:  # the connection broke: the loop reconnects
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            log.debug("event stream failed", exc_info=True)
        self._queue.put_control(Disconnected(reason))

    def close(self) -> None:
        """Stop reading (the stream is closed, which ends the thread's read)."""
        close = getattr(self._stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing a broken connection: nothing left to do
                log.debug("closing the event stream failed", exc_info=True)
        self._thread.join(timeout=5)
