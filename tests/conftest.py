"""Shared fixtures. Real parts (dockerd, registry) live in tests/plugins/ and start once."""

from __future__ import annotations

import importlib.util
import os

import pytest
from hypothesis import HealthCheck, settings

_PLUGINS = ("tests.plugins.docker_daemon", "tests.plugins.registry")
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis profiles for every fuzz test: ``default`` keeps ``make test`` fast (a small
# budget per test); ``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, as ``make fuzz`` sets) runs many
# more examples per test (``LEAKSCAN_FUZZ_EXAMPLES``, as the targets in tests/fuzz/ do).
_COMMON = {
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    "derandomize": False,
    "database": None,
}
settings.register_profile("default", max_examples=40, deadline=2000, **_COMMON)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("LEAKSCAN_FUZZ_EXAMPLES") or 2000),
    deadline=10_000,
    **_COMMON,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def require(condition: bool, why: str) -> None:
    """Skip when a real part is missing on a developer machine; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {why}")
    pytest.skip(why)


@pytest.fixture(autouse=True)
def registry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Registry retries in this process record their backoff here instead of sleeping.

    Every client made without its own policy uses ``retry.DEFAULT``; the delays asked for are
    appended in order, so a test can check the backoff without waiting for it.
    """
    from leakscan.sources.registry import retry

    waits: list[float] = []
    monkeypatch.setattr(retry, "DEFAULT", retry.RetryPolicy(sleep=waits.append))
    return waits


@pytest.fixture(autouse=True)
def _no_content_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image scans consult a content cache across runs; tests start without one (a test that
    is about the cache sets LEAKSCAN_CONTENT_CACHE to a file of its own)."""
    monkeypatch.setenv("LEAKSCAN_CONTENT_CACHE", "off")
