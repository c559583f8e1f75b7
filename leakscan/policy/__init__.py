"""CI policy: the config file, inline allow comments and the baseline.

:func:`install` adds this package's hooks to the CLI's hook lists (``leakscan.cli.common``):
before the scan the config file is merged into the options (flags win) and the allow-comment
callback is set; after it, allowed locations and baseline entries are removed. ``opts`` is the
CLI's ``Options`` (duck-typed here so that this package does not import the CLI).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from leakscan.policy import allow, baseline, config_file

log = logging.getLogger(__name__)

__all__ = ["allow", "baseline", "config_file", "explicit", "install", "merge_config"]

_DEFAULTS: dict[str, Any] = {
    "format": "table",
    "min_confidence": "low",
    "fail_on": None,
    "baseline": None,
    "no_foreign_allow": False,
}


def explicit(name: str, value: Any) -> bool:
    """Whether a command-line option was given (not left at its default)."""
    ctx = None
    try:  # typer vendors click as typer._click in recent versions
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover
        try:
            from click import get_current_context  # type: ignore[no-redef]
        except ImportError:
            get_current_context = None  # type: ignore[assignment]
    if get_current_context is not None:
        ctx = get_current_context(silent=True)
    if ctx is not None and name in ctx.params:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")
    return bool(value != _DEFAULTS.get(name))


def merge_config(config: Any, opts: Any) -> config_file.FileConfig:
    """Apply the config file to a ScanConfig and the CLI options; flags override the file."""
    file = config_file.load(opts.config)
    opts.extra["file_config"] = file
    if file.enable and not config.enable:
        config.enable = tuple(file.enable)
    if file.disable:
        config.disable = tuple(dict.fromkeys((*config.disable, *file.disable)))
    if file.rules:
        config.rule_paths = tuple(dict.fromkeys((*file.rules, *config.rule_paths)))
    if file.exclude:
        options = config.options
        options.exclude = tuple(dict.fromkeys((*file.exclude, *options.exclude)))
    for key in ("format", "min_confidence", "fail_on", "baseline"):
        value = getattr(file, key)
        if value is not None and not explicit(key, getattr(opts, key)):
            setattr(opts, key, value)
    config.min_confidence = opts.min_confidence
    no_foreign = opts.extra.get("no_foreign_allow", False)
    if explicit("no_foreign_allow", no_foreign) and no_foreign:
        foreign = False
    else:
        foreign = True if file.foreign_allow is None else file.foreign_allow
    opts.extra["foreign_allow"] = foreign
    return file


def _config_hook(config: Any, opts: Any) -> None:
    merge_config(config, opts)
    drop_allowed = allow.match_filter(opts.extra.get("foreign_allow", True))
    # secrets allowed inline (not rule hits: two rules may see one secret), for the summary
    allowed: set[str] = set()
    opts.extra["allowed_secrets"] = allowed
    opts.extra["allowed_inline"] = 0

    def counted(data: bytes, matches: list[Any]) -> list[Any]:
        kept = drop_allowed(data, matches)
        if len(kept) < len(matches):
            allowed.update(m.secret for m in matches if m not in kept)
            opts.extra["allowed_inline"] = len(allowed)
        return kept

    config.match_filter = counted


def _allow_filter(result: Any, opts: Any) -> Any:
    before = [(f, len(f.locations)) for f in result.findings]
    result, suppressed = allow.filter_result(result, opts.extra.get("foreign_allow", True))
    if suppressed:
        log.info("%d location(s) allowed by inline comments", suppressed)
        allowed = opts.extra.setdefault("allowed_secrets", set())
        kept = {id(f) for f in result.findings}
        for finding, count in before:
            if id(finding) not in kept or len(finding.locations) < count:
                allowed.add(finding.secret or finding.fingerprint)
        opts.extra["allowed_inline"] = len(allowed)
    count = opts.extra.get("allowed_inline", 0)
    extra = getattr(result, "extra", None)
    if count and isinstance(extra, dict):
        extra["allowed_inline"] = count  # the JSON report says it too
    return result


def _baseline_filter(result: Any, opts: Any) -> Any:
    if opts.baseline is None:
        return result
    accepted = baseline.Baseline.load(opts.baseline)
    result, outcome = baseline.apply(accepted, result)
    extra = getattr(result, "extra", None)
    if isinstance(extra, dict):
        extra["baseline"] = outcome.to_dict()
    opts.extra["baseline_outcome"] = outcome
    return result


def install(
    config_hooks: list[Callable[[Any, Any], None]],
    result_filters: list[Callable[[Any, Any], Any]],
) -> None:
    """Add the policy hooks (once) in front of any others."""
    if _config_hook not in config_hooks:
        config_hooks.insert(0, _config_hook)
    for position, hook in enumerate((_allow_filter, _baseline_filter)):
        if hook not in result_filters:
            result_filters.insert(position, hook)
