"""The watch: backfill, then follow the daemon's events; reconnect when it goes away.

One session per connection: the event stream is opened first (events queue up meanwhile),
every image and container not yet done is scanned (the backfill), then queued events are
handled as they come. When the daemon goes away the session ends with one log line, and the
next connection, after a backoff, starts with a backfill: nothing that happened meanwhile is
missed, and the state keeps anything from being emitted twice. ``stop()`` (SIGTERM/SIGINT)
lets the unit in hand finish and be recorded, then returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from leakscan.model import ScanResult
from leakscan.watch.backfill import backfill_targets
from leakscan.watch.backoff import Backoff, Wait
from leakscan.watch.daemon import Daemon, DaemonGone
from leakscan.watch.events import Disconnected, EventQueue, Follower, Stop, Target
from leakscan.watch.state import WatchState

log = logging.getLogger(__name__)


class Units(Protocol):
    """What scans one unit (``leakscan.watch.scanning.UnitScanner``)."""

    rules_key: str

    def image(
        self,
        attrs: Mapping[str, Any],
        name: str,
        history: Callable[[], list[Mapping[str, Any]] | None] | None = None,
    ) -> ScanResult: ...

    def container(
        self, attrs: Mapping[str, Any], image: Mapping[str, Any] | None
    ) -> ScanResult: ...


@dataclass(slots=True)
class Summary:
    emitted: int = 0  # findings emitted (new for their image or container)
    units: int = 0  # images and containers scanned
    failed: int = 0  # units that could not be scanned whole
    # why (with --once; a long watch only logs them): units that failed, daemon unreachable
    errors: list[str] = field(default_factory=list)
    dropped: int = 0  # events dropped by a full queue
    reconnects: int = 0


def _name(kind: str, attrs: Mapping[str, Any], uid: str) -> str:
    if kind == "image":
        tags = [t for t in attrs.get("RepoTags") or [] if t and t != "<none>:<none>"]
        return str(tags[0]) if tags else uid
    return str(attrs.get("Name") or uid).lstrip("/")


class Watcher:
    def __init__(
        self,
        connect: Callable[[], Daemon],
        units: Units,
        state: WatchState,
        emit: Callable[[dict[str, Any]], None],
        *,
        once: bool = False,
        queue_size: int = 1000,
        show_secrets: bool = False,
        backoff: Backoff | None = None,
        wait: Wait | None = None,
        clock: Callable[[], float] = time.time,
        poll: float = 1.0,
    ) -> None:
        self._connect = connect
        self._units = units
        self._state = state
        self._emit = emit
        self.once = once
        self.queue_size = queue_size
        self.show_secrets = show_secrets
        self.backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._wait: Wait = wait or self._stop.wait
        self._clock = clock
        self._poll = poll
        self._queue: EventQueue | None = None
        self.summary = Summary()

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the unit in hand, then return from :meth:`run` (signal-handler safe)."""
        self._stop.set()
        queue = self._queue
        if queue is not None:
            queue.put_control(Stop())

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> Summary:
        attempt = 0
        lost = False
        while not self.stopping:
            try:
                daemon = self._connect()
            except DaemonGone as exc:
                if self.once:
                    self.summary.errors.append(str(exc))
                    break
                if not lost:
                    log.warning("%s; retrying with backoff", exc)
                    lost = True
                self._wait(self.backoff.delay(attempt))
                attempt += 1
                continue
            if lost:
                log.info("docker daemon reachable again: backfilling")
                self.summary.reconnects += 1
            lost, attempt = False, 0
            try:
                self._session(daemon)
                break  # --once done, or stopped
            except DaemonGone as exc:
                if self.once:
                    self.summary.errors.append(str(exc))
                    break
                log.warning("docker daemon went away (%s); reconnecting with backoff", exc)
                lost = True
                self._wait(self.backoff.delay(attempt))
                attempt += 1
            finally:
                self._queue = None
                daemon.close()
        return self.summary

    def _session(self, daemon: Daemon) -> None:
        queue = self._queue = EventQueue(self.queue_size)
        follower = None
        if not self.once:
            follower = Follower(daemon.events(), queue)
            follower.start()
        try:
            self._backfill(daemon)
            if not self.once:
                self._follow(daemon, queue)
        finally:
            if follower is not None:
                follower.close()

    def _backfill(self, daemon: Daemon) -> None:
        for target in backfill_targets(daemon):
            if self.stopping:
                return
            self._handle(daemon, target)

    def _follow(self, daemon: Daemon, queue: EventQueue) -> None:
        while not self.stopping:
            item = queue.get(self._poll)
            if item is None or isinstance(item, Stop):
                continue
            if isinstance(item, Disconnected):
                raise DaemonGone(item.reason)
            self._handle(daemon, item)
            dropped = queue.take_dropped()
            if dropped:
                self.summary.dropped += dropped
                log.warning(
                    "%d event(s) dropped: the queue (--queue-size %d) was full; backfilling",
                    dropped,
                    self.queue_size,
                )
                self._backfill(daemon)

    # -- one unit ----------------------------------------------------------------------------

    def _handle(self, daemon: Daemon, target: Target) -> None:
        kind = target.kind
        attrs = daemon.image(target.ref) if kind == "image" else daemon.container(target.ref)
        if attrs is None:  # gone before its turn (a removed container, an untagged image)
            log.debug("%s %s is gone", kind, target.ref)
            return
        uid = str(attrs.get("Id") or target.ref)
        if self._state.done(kind, uid, self._units.rules_key):
            return
        name = _name(kind, attrs, uid)
        if kind == "image":
            result = self._units.image(attrs, name, lambda: daemon.history(uid))
        else:
            image = daemon.image(str(attrs.get("Image") or "")) if attrs.get("Image") else None
            result = self._units.container(attrs, image)
        self.summary.units += 1
        if kind == "image":
            log.info(
                "image %s: %d layer(s) scanned, %d reused (scanned before: this run or the "
                "content cache)",
                name,
                result.stats.layers_scanned,
                result.stats.layers_reused,
            )
        for skip in result.skipped:
            log.info("skipped %s: %s", skip.where, skip.reason)
        if result.errors and not daemon.alive():
            self._publish(kind, uid, name, result, done=False)
            raise DaemonGone(result.errors[0])
        for error in result.errors:  # --once: the command prints them
            if self.once:
                self.summary.errors.append(f"{name}: {error}")
            else:
                log.warning("%s %s: %s", kind, name, error)
        self.summary.failed += bool(result.errors)
        self._publish(kind, uid, name, result, done=not result.errors)

    def _publish(self, kind: str, uid: str, name: str, result: ScanResult, done: bool) -> None:
        """Emit the findings new for this unit, then record them (and the unit, if done)."""
        new = [f for f in result.findings if not self._state.emitted(f.fingerprint, kind, uid)]
        now = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="seconds")
        for finding in new:
            record: dict[str, Any] = {
                "type": "finding",
                "time": now.replace("+00:00", "Z"),
                "target": {"kind": kind, "id": uid, "name": name},
            }
            record.update(finding.to_dict(show_secret=self.show_secrets))
            self._emit(record)
        self.summary.emitted += len(new)
        self._state.record(
            kind,
            uid,
            self._units.rules_key if done else None,
            name,
            [f.fingerprint for f in new],
        )
