"""Shared fixtures. Real parts (dockerd, registry) live in tests/plugins/ and start once."""

from __future__ import annotations

import importlib.util
import os

import pytest

_PLUGINS = ("tests.plugins.docker_daemon", "tests.plugins.registry")
pytest_plugins = [p for p in _PLUGINS if importlib.util.find_spec(p) is not None]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Skip when a real part is missing on a developer machine; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {why}")
    pytest.skip(why)
