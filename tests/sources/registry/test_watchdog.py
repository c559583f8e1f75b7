"""The headers deadline: one watchdog thread keeps every request's deadline, so a short
deadline armed after a long one still fires on time, and the long one is left alone."""

from __future__ import annotations

import threading

from leakscan.sources.registry.watchdog import headers_deadline


class _Sock:
    def __init__(self) -> None:
        self.shut = threading.Event()

    def shutdown(self, how: int) -> None:
        self.shut.set()


class _Conn:
    def __init__(self) -> None:
        self.sock = _Sock()


def test_a_later_short_deadline_fires_before_an_earlier_long_one() -> None:
    slow, stalled = _Conn(), _Conn()
    fired: list[bool] = []

    def stalled_request() -> None:
        with headers_deadline(0.05) as guard:
            guard.conn = stalled
            stalled.sock.shut.wait(60)  # a blocked read, ended by the shutdown
        fired.append(guard.fired)

    with headers_deadline(3600) as long_guard:
        long_guard.conn = slow
        thread = threading.Thread(target=stalled_request)
        thread.start()
        thread.join(60)
    assert fired == [True] and stalled.sock.shut.is_set()
    assert not long_guard.fired and not slow.sock.shut.is_set()


def test_many_requests_in_time_are_never_cut() -> None:
    conns = [_Conn() for _ in range(500)]
    for conn in conns:
        with headers_deadline(3600) as guard:
            guard.conn = conn
        assert not guard.fired
    assert not any(c.sock.shut.is_set() for c in conns)
