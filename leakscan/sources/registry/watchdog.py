"""A deadline for an HTTP answer's headers: a server trickling its status line and headers a
byte at a time gets the per-read timeout on every byte, so nothing else would stop it.

:func:`guard_session` mounts an adapter whose connection pools note, per thread, the
connection a request is using; :func:`headers_deadline` arms a deadline that shuts that
connection's socket down when it passes (the blocked read then fails, and ``fired`` tells
the caller why). The deadline is disarmed as soon as the headers are in.

Deadlines are kept by one long-lived daemon thread (a heap of deadlines on the monotonic
clock) rather than a timer thread per request: at hundreds of requests a second, starting a
thread each time cost more than the request.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_CURRENT = threading.local()  # .guard: the _Guard of this thread's request, if armed


class _Guard:
    """One armed deadline: the connection in use, and whether the deadline fired."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.fired = False
        self.armed = False  # in the watchdog's heap and not yet disarmed
        self._lock = threading.Lock()

    def fire(self) -> None:
        with self._lock:
            sock = getattr(self.conn, "sock", None)
            if sock is None:
                return
            self.fired = True
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def note_connection(conn: Any) -> Any:
    """The connection (anything with a ``sock``) this thread's guarded request uses."""
    guard = getattr(_CURRENT, "guard", None)
    if guard is not None:
        guard.conn = conn
    return conn


_note = note_connection


def deadline_fired() -> bool:
    """This thread's guarded request was cut at its deadline."""
    guard = getattr(_CURRENT, "guard", None)
    return guard is not None and guard.fired


class _HTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _note(super()._get_conn(timeout))


class _HTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _note(super()._get_conn(timeout))


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _Watchdog:
    """One daemon thread firing the guards whose deadline has passed, earliest first.

    ``disarm`` returns only once the guard can no longer fire (firing happens under the same
    lock), so a request whose headers came in on time is never cut afterwards."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Guard]] = []
        self._order = itertools.count()
        self._live = 0
        self._thread: threading.Thread | None = None

    def arm(self, guard: _Guard, seconds: float) -> None:
        when = time.monotonic() + seconds
        with self._cond:
            guard.armed = True
            self._live += 1
            heapq.heappush(self._heap, (when, next(self._order), guard))
            if len(self._heap) > 64 and len(self._heap) > 2 * self._live:
                self._heap = [e for e in self._heap if e[2].armed]  # drop disarmed ones
                heapq.heapify(self._heap)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="leakscan-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is guard:  # the new earliest deadline: wake the thread
                self._cond.notify()

    def disarm(self, guard: _Guard) -> None:
        with self._cond:
            if guard.armed:
                guard.armed = False
                self._live -= 1

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and not self._heap[0][2].armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _, _, guard = heapq.heappop(self._heap)
                guard.armed = False
                self._live -= 1
                guard.fire()


_WATCHDOG = _Watchdog()


def _after_fork() -> None:  # a forked child has no watchdog thread, and maybe a held lock
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def guard_session(session: requests.Session, connections: int = 10) -> None:
    """Let :func:`headers_deadline` reach the sockets of ``session``'s requests; keep up to
    ``connections`` connections per host alive (one per concurrent request)."""
    adapter = _Adapter(pool_connections=10, pool_maxsize=max(1, connections))
    session.mount("http://", adapter)
    session.mount("https://", adapter)


@contextmanager
def headers_deadline(seconds: float) -> Iterator[_Guard]:
    """Within the block, a request whose headers are not in after ``seconds`` has its
    connection shut down; ``.fired`` says it happened. Leave the block once the headers are
    in (the body has its own deadline)."""
    guard = _Guard()
    _CURRENT.guard = guard
    watchdog = _WATCHDOG
    watchdog.arm(guard, seconds)
    try:
        yield guard
    finally:
        watchdog.disarm(guard)
        _CURRENT.guard = None
