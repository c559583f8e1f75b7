"""CI policy: the config file, inline allow comments and the baseline.

:class:`Policy` is one run's policy, built once by the CLI (flags over the config file, the
baseline loaded) and handed to the API in :class:`leakscan.api.ScanConfig`; the scanner
applies it. ``config_file`` reads ``leakscan.toml``; the CLI turns it into its flags' defaults.
"""

from __future__ import annotations

from leakscan.policy import allow, baseline, config_file
from leakscan.policy.policy import FAIL_ON_VALID, InlineAllows, LeftOut, Policy, apply, left_out

__all__ = [
    "FAIL_ON_VALID",
    "InlineAllows",
    "LeftOut",
    "Policy",
    "allow",
    "apply",
    "baseline",
    "config_file",
    "left_out",
]
