"""How a registry request is tried again: how often, and how long it waits first.

The wait goes through :attr:`RetryPolicy.sleep`, so nothing here has to sleep for real: a
client takes its own policy (``RegistryClient(retry=...)``) or the module's :data:`DEFAULT`,
looked up when the client is made. A program that makes clients deep inside (the CLI, an
audit) changes them all by setting :data:`DEFAULT`; the test suite sets it to a policy whose
``sleep`` only records the delay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``retries`` more attempts after the first, waiting ``backoff * 2**(n-1)`` seconds
    before attempt ``n`` (or the server's ``Retry-After``, at most ``max_retry_after``)."""

    retries: int = 3
    backoff: float = 0.5
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (1 for the first retry)."""
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.max_retry_after)
        return self.backoff * 2.0 ** (attempt - 1)


#: the policy of a client made without one (read when each client is made)
DEFAULT = RetryPolicy()
