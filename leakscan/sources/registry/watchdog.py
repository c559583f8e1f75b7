"""A deadline for an HTTP answer's headers: a server trickling its status line and headers a
byte at a time gets the per-read timeout on every byte, so nothing else would stop it.

:func:`guard_session` mounts an adapter whose connection pools note, per thread, the
connection a request is using; :func:`headers_deadline` arms a timer that shuts that
connection's socket down when the deadline passes (the blocked read then fails, and
``expired()`` tells the caller why). The timer is cancelled as soon as the headers are in.
"""

from __future__ import annotations

import socket
import threading
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


def _note(conn: Any) -> Any:
    guard = getattr(_CURRENT, "guard", None)
    if guard is not None:
        guard.conn = conn
    return conn


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


def guard_session(session: requests.Session) -> None:
    """Let :func:`headers_deadline` reach the sockets of ``session``'s requests."""
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)


@contextmanager
def headers_deadline(seconds: float) -> Iterator[_Guard]:
    """Within the block, a request whose headers are not in after ``seconds`` has its
    connection shut down; ``.fired`` says it happened. Leave the block once the headers are
    in (the body has its own deadline)."""
    guard = _Guard()
    _CURRENT.guard = guard
    timer = threading.Timer(seconds, guard.fire)
    timer.daemon = True
    timer.start()
    try:
        yield guard
    finally:
        timer.cancel()
        _CURRENT.guard = None
