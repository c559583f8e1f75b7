"""Per-provider pacing: at most ``rate`` requests a second and ``concurrency`` in flight.

The clock and the sleep are injected (tests never wait).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimiter:
    """Spaces requests ``1/rate`` seconds apart (the first goes at once)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be more than 0")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)


class ProviderGate:
    """Bounded concurrency plus a rate limit, one gate per provider."""

    def __init__(
        self,
        rate: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._gates: dict[str, tuple[threading.BoundedSemaphore, RateLimiter]] = {}

    def _gate(self, provider: str) -> tuple[threading.BoundedSemaphore, RateLimiter]:
        with self._lock:
            gate = self._gates.get(provider)
            if gate is None:
                gate = (
                    threading.BoundedSemaphore(self._concurrency),
                    RateLimiter(self._rate, self._clock, self._sleep),
                )
                self._gates[provider] = gate
            return gate

    @contextmanager
    def slot(self, provider: str) -> Iterator[None]:
        semaphore, limiter = self._gate(provider)
        with semaphore:
            limiter.acquire()
            yield
