"""Hypothesis profiles for the hardening suite.

``default`` keeps ``make test`` fast (a small budget per fuzz test); ``fuzz`` (selected with
``HYPOTHESIS_PROFILE=fuzz``, as ``make fuzz`` does) runs many more examples per test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
settings.register_profile("fuzz", max_examples=2000, deadline=10_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
