"""An HTTP answer's body read under a size limit and a deadline (registry and token service)."""

from __future__ import annotations

from collections.abc import Callable

import requests


def bounded_body(
    resp: requests.Response,
    limit: int,
    deadline: float,
    clock: Callable[[], float],
) -> bytes | None:
    """The body, read one chunk at a time; None when longer than ``limit``. Raises
    TimeoutError once ``clock()`` passes ``deadline`` (each read waits at most the socket's
    timeout, so a trickling server is cut off close to the deadline)."""
    parts: list[bytes] = []
    total = 0
    try:
        while True:
            if clock() > deadline:
                raise TimeoutError("no complete answer by the deadline")
            chunk = resp.raw.read1(min(1 << 16, limit + 1 - total), decode_content=True)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                return None
    finally:
        resp.close()
