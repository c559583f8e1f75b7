"""Where findings go: JSON lines (stdout or a file, appended) and, optionally, a webhook.

The webhook is posted by a background thread from a bounded queue, retried with backoff; the
scan never waits for it. The URL is never logged whole (webhook URLs often carry a token):
only its scheme and host.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import urlsplit

from leakscan.errors import UsageError
from leakscan.watch.backoff import Backoff, Wait

log = logging.getLogger(__name__)


class JsonlSink:
    """One JSON object per line, flushed as written."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, record: dict[str, Any]) -> None:
        self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._stream.flush()


class PostError(Exception):
    """A delivery failed; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


#: posts a JSON body to a URL, or raises PostError
Post = Callable[[str, bytes], None]


def http_post(url: str, body: bytes, timeout: float = 10.0) -> None:
    """POST with requests: 2xx is delivered; 408, 429, 5xx and connection errors are retried."""
    import requests

    from leakscan import __version__

    try:
        response = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": f"leakscan/{__version__}",
            },
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise PostError(type(exc).__name__, retry=True) from None
    status = response.status_code
    response.close()
    if 200 <= status < 300:
        return
    raise PostError(f"HTTP {status}", retry=status in (408, 425, 429) or status >= 500)


def webhook_host(url: str) -> str:
    """``scheme://host[:port]`` of a webhook URL (what logs may show); UsageError if not http."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--webhook must be an http:// or https:// URL")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class WebhookSender:
    """Posts records in the background: bounded queue, retries with backoff, never blocking.

    ``attempts`` tries per record, waiting ``backoff.delay(n)`` between them through ``wait``
    (by default an ``Event.wait`` that :meth:`close` cuts short when its time is up). A record
    that finds the queue full, or fails every attempt, is dropped, logged and counted in
    ``dropped`` / ``failed``.
    """

    def __init__(
        self,
        url: str,
        post: Post = http_post,
        backoff: Backoff | None = None,
        attempts: int = 6,
        limit: int = 1000,
        wait: Wait | None = None,
    ) -> None:
        self.url = url
        self.host = webhook_host(url)
        self._post = post
        self._backoff = backoff or Backoff(base=1.0, factor=2.0, cap=60.0)
        self._attempts = max(1, attempts)
        self._limit = max(1, limit)
        self._items: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()  # no more records: end once the queue is empty
        self._abort = threading.Event()  # out of time: give up what is left
        self._wait: Wait = wait or self._abort.wait
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._pending = 0  # accepted and not yet delivered or given up
        self._thread = threading.Thread(target=self._run, name="leakscan-webhook", daemon=True)
        self._thread.start()

    def send(self, record: dict[str, Any]) -> None:
        body = json.dumps(record, ensure_ascii=False).encode()
        with self._cond:
            if len(self._items) >= self._limit:
                self.dropped += 1
                log.warning(
                    "webhook %s: queue full (%d), a finding was not posted", self.host, self._limit
                )
                return
            self._items.append(body)
            self._pending += 1
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._closing.is_set():
                    self._cond.wait()
                if not self._items:
                    return  # closing, nothing left
                body = self._items.popleft()
            try:
                self._deliver(body)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _deliver(self, body: bytes) -> None:
        for attempt in range(self._attempts):
            if self._abort.is_set():
                self.failed += 1
                return
            try:
                self._post(self.url, body)
            except PostError as exc:
                if attempt + 1 >= self._attempts or not exc.retry:
                    self.failed += 1
                    log.warning(
                        "webhook %s: a finding was not delivered (%s, %d attempt(s))",
                        self.host,
                        exc,
                        attempt + 1,
                    )
                    return
                delay = self._backoff.delay(attempt)
                log.info("webhook %s: %s; retrying in %.1fs", self.host, exc, delay)
                self._wait(delay)
                continue
            except Exception as exc:  # a bug in a post function: never kill the thread
                self.failed += 1
                log.warning("webhook %s: unexpected %s", self.host, type(exc).__name__)
                return
            self.delivered += 1
            return

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record sent so far was delivered or given up."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 15.0) -> None:
        """Deliver what is queued (retries and all) for up to ``timeout`` seconds, then give
        up the rest and say how many."""
        with self._cond:
            self._closing.set()
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(5)
        with self._cond:
            left = self._pending
            self._items.clear()
        if left or self.failed:
            log.warning("webhook %s: %d finding(s) not posted", self.host, left + self.failed)
