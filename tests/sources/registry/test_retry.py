"""The registry retry policy: exponential backoff, a server's Retry-After honoured up to a cap,
and the client waiting through the policy it was given (so nothing here sleeps)."""

from __future__ import annotations

import pytest

from leakscan.sources.registry import retry
from leakscan.sources.registry.client import RegistryClient, RegistryError
from tests.plugins.registry import free_port


@pytest.mark.parametrize(
    ("attempt", "retry_after", "seconds"),
    [
        (1, None, 0.5),
        (2, None, 1.0),
        (3, None, 2.0),
        (1, "7", 7.0),  # the server's own wait wins
        (1, "3600", 30.0),  # ... up to the cap
        (2, "Wed, 21 Oct 2026 07:28:00 GMT", 1.0),  # an HTTP date is not honoured
    ],
)
def test_delay(attempt: int, retry_after: str | None, seconds: float) -> None:
    assert retry.RetryPolicy().delay(attempt, retry_after) == seconds


def test_unreachable_registry_is_retried_through_the_policy() -> None:
    waits: list[float] = []
    policy = retry.RetryPolicy(retries=2, backoff=0.25, sleep=waits.append)
    client = RegistryClient(f"127.0.0.1:{free_port()}", insecure=True, retry=policy)
    with pytest.raises(RegistryError, match="unreachable"):
        client.ping()
    assert waits == [0.25, 0.5]


def test_default_policy_is_read_when_a_client_is_made(registry_waits: list[float]) -> None:
    client = RegistryClient(f"127.0.0.1:{free_port()}", insecure=True, retries=1)
    with pytest.raises(RegistryError, match="unreachable"):
        client.ping()
    assert registry_waits == [0.5]  # the suite's recording policy, with the count overridden
