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
