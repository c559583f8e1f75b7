"""The ``--validate`` options of scanning commands, and applying them to a result.

No network is used unless ``--validate`` is given: without it this module only declares
options. ``$LEAKSCAN_VALIDATE_TTL`` (seconds, 0 = no cache) sets how long an answer is reused.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from leakscan.errors import UsageError
from leakscan.model import ScanResult
from leakscan.policy.policy import FAIL_ON_VALID

if TYPE_CHECKING:
    from leakscan.cli.options import Options
    from leakscan.validate import Settings

ValidateOpt = Annotated[
    bool,
    typer.Option(
        "--validate",
        help="Ask each supported provider's API (read-only) whether a found credential is "
        "live and whose it is. Off by default: leakscan uses no network without it.",
    ),
]
ValidateEndpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--validate-endpoint",
        metavar="PROVIDER=URL",
        help="Base URL of a provider's API (GitHub Enterprise, self-managed GitLab ...); "
        "repeatable; plain http:// only for loopback.",
    ),
]
OnlyValidOpt = Annotated[
    bool, typer.Option("--only-valid", help="With --validate: report only live credentials.")
]
VALIDATE_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("validate", ValidateOpt, False),
    ("validate_endpoint", ValidateEndpointOpt, None),
    ("only_valid", OnlyValidOpt, False),
)


def check_options(opts: Options) -> None:
    """Usage errors before anything is scanned."""
    wanted = opts.validate
    if not wanted:
        if opts.only_valid:
            raise UsageError("--only-valid needs --validate")
        if opts.validate_endpoint:
            raise UsageError("--validate-endpoint needs --validate")
        if opts.fail_on == FAIL_ON_VALID:
            raise UsageError("--fail-on valid needs --validate")
        return
    settings(opts)  # endpoints are checked now


def settings(opts: Options) -> Settings:
    from leakscan.paths import cache_dir
    from leakscan.validate import Settings
    from leakscan.validate.cache import DEFAULT_TTL, ValidationCache
    from leakscan.validate.endpoints import parse_endpoints
    from leakscan.validate.providers import provider_names

    endpoints = parse_endpoints(list(opts.validate_endpoint), provider_names())
    result = Settings(endpoints=endpoints)
    ttl = _ttl(os.environ.get("LEAKSCAN_VALIDATE_TTL"), DEFAULT_TTL)
    if ttl > 0:
        result.cache = ValidationCache(cache_dir() / "validation.json", ttl, result.now)
    return result


def _ttl(text: str | None, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"LEAKSCAN_VALIDATE_TTL must be seconds, not {text!r}") from None
    return max(0.0, value)


def validated(result: ScanResult, opts: Options) -> ScanResult:
    """The result with each finding's validation (and only the live ones with --only-valid)."""
    if not opts.validate:
        return result
    from leakscan.validate import validate_findings

    validate_findings(result.findings, settings(opts))
    if opts.only_valid:
        live = [f for f in result.findings if f.validation and f.validation.status == "valid"]
        result = replace(result, findings=live)
    return result
