"""From the command line's values to the library's: :class:`~leakscan.policy.Policy`,
:class:`~leakscan.sources.interface.SourceOptions` and :class:`~leakscan.api.ScanConfig`.

Flags are checked here (a wrong value is a :class:`~leakscan.errors.UsageError`) and the
environment variables that tune a scan are read here, once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

from leakscan.api import ScanConfig
from leakscan.cli.options import Options
from leakscan.errors import LeakscanError, UsageError
from leakscan.model import CONFIDENCES, SEVERITIES
from leakscan.policy.baseline import Baseline
from leakscan.policy.policy import FAIL_ON_VALID, Policy
from leakscan.sources.interface import SourceOptions

T = TypeVar("T")


def parse_size(text: str, flag: str) -> int:
    """``1048576``, ``512K``, ``64M``, ``1G`` (powers of 1024) → bytes; UsageError otherwise."""
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    try:
        size = int(float(number) * scale)
    except ValueError:
        raise UsageError(f"{flag}: not a size: {text!r} (e.g. 1048576, 512K, 64M, 1G)") from None
    if size < 1:
        raise UsageError(f"{flag} must be at least 1 byte")
    return size


def check(opts: Options) -> None:
    """The choices of --min-confidence and --fail-on (the config file's are checked as read)."""
    if opts.min_confidence not in CONFIDENCES:
        raise LeakscanError(f"--min-confidence must be one of {', '.join(CONFIDENCES)}")
    if opts.fail_on and opts.fail_on not in (*SEVERITIES, FAIL_ON_VALID):
        raise LeakscanError(f"--fail-on must be one of {', '.join(SEVERITIES)} or valid")


def policy(opts: Options, baseline: bool = True) -> Policy:
    """The run's policy: flags over the config file; the baseline read now (``baseline``
    False: none, for a scan that makes one)."""
    file = opts.file
    if opts.no_foreign_allow:
        foreign = False
    else:
        foreign = True if file.foreign_allow is None else file.foreign_allow
    path = opts.baseline if baseline else None
    return Policy(
        min_confidence=opts.min_confidence,
        fail_on=opts.fail_on,
        exclude=_merged(file.exclude, opts.exclude),
        inline_allows=True,
        foreign_allow=foreign,
        baseline=Baseline.load(path) if path is not None else None,
        baseline_path=path,
    )


def _merged(from_file: Sequence[T], from_flags: tuple[T, ...]) -> tuple[T, ...]:
    """A list key of the config file added in front of its flag's values (once each)."""
    return tuple(dict.fromkeys((*from_file, *from_flags))) if from_file else from_flags


def _limits(opts: Options, source_options: SourceOptions, config: ScanConfig) -> None:
    """The --max-* and --regex-timeout flags, when given (a flag left out keeps the default)."""
    if opts.max_file_size is not None:
        source_options.max_file_bytes = parse_size(opts.max_file_size, "--max-file-size")
    if opts.max_layer_size is not None:
        source_options.max_layer_bytes = parse_size(opts.max_layer_size, "--max-layer-size")
    if opts.max_ratio is not None:
        if opts.max_ratio < 2:
            raise UsageError("--max-ratio must be at least 2")
        source_options.max_ratio = opts.max_ratio
    if opts.max_archive_depth is not None:
        if opts.max_archive_depth < 0:
            raise UsageError("--max-archive-depth must be 0 or more")
        source_options.archive_depth = opts.max_archive_depth
    if opts.regex_timeout is not None:
        if not opts.regex_timeout > 0:
            raise UsageError("--regex-timeout must be more than 0 seconds")
        config.regex_timeout = float(opts.regex_timeout)
    if opts.max_hits_per_rule is not None:
        if opts.max_hits_per_rule < 1:
            raise UsageError("--max-hits-per-rule must be at least 1")
        config.max_hits_per_rule = int(opts.max_hits_per_rule)
    if opts.max_decoded_regions is not None:
        if opts.max_decoded_regions < 1:
            raise UsageError("--max-decoded-regions must be at least 1")
        config.max_decoded_regions = int(opts.max_decoded_regions)


def registry_timeout() -> float | None:
    """``LEAKSCAN_REGISTRY_TIMEOUT``: seconds each registry read may wait (a request's whole
    answer gets twice that, a blob more by its size); None when unset (30 s)."""
    text = os.environ.get("LEAKSCAN_REGISTRY_TIMEOUT", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1e6:
        raise LeakscanError(
            f"LEAKSCAN_REGISTRY_TIMEOUT must be a number of seconds above 0, not {text[:40]!r}"
        )
    return value


def jobs(flag: int | None) -> int:
    """Worker processes: --jobs, else $LEAKSCAN_JOBS, else 0 (one per core)."""
    if flag is not None:
        value: object = flag
    else:
        value = os.environ.get("LEAKSCAN_JOBS", "0")
    try:
        count = int(str(value))
    except ValueError:
        raise LeakscanError(f"--jobs / LEAKSCAN_JOBS must be a number, not {value!r}") from None
    if count < 0:
        raise LeakscanError("--jobs must be 0 (one per core) or more")
    return count


def scan_config(opts: Options, run_policy: Policy | None = None) -> ScanConfig:
    """The library's configuration for these options: rules (flags and the config file),
    limits, the policy (built from ``opts`` unless given)."""
    run_policy = run_policy if run_policy is not None else policy(opts)
    file = opts.file
    source_options = SourceOptions(exclude=run_policy.exclude, scan_binary=opts.scan_binary)
    source_options.registry_timeout = registry_timeout()
    if opts.platform:
        source_options.platform = opts.platform
    if opts.force_kind:
        source_options.force_kind = opts.force_kind
    config = ScanConfig(
        rule_paths=_merged(file.rules, opts.rules),
        enable=tuple(file.enable),
        disable=tuple(dict.fromkeys(file.disable)),
        options=source_options,
        policy=run_policy,
    )
    key = os.environ.get("LEAKSCAN_FINGERPRINT_KEY")
    if key:
        config.fingerprint_key = key.encode()
    _limits(opts, source_options, config)
    config.jobs = jobs(opts.jobs)
    return config
