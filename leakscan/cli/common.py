"""Options shared by every scanning command, and the one place a scan is run and reported.

A command module declares its own arguments plus the shared options (the ``*Opt`` aliases
below), builds an :class:`Options` with :func:`options_from`, and calls :func:`run_scan` with a
factory of its sources. ``run_scan`` prints the report, writes the output file and exits with
0 (nothing found), 1 (findings) or 2 (the scan could not complete; findings made are still
written).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import signal
import sys
import threading
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from leakscan.api import ScanConfig, scan
from leakscan.cli import validation
from leakscan.cli.output import FormatsOpt, ReportOpt
from leakscan.errors import ExitCode, LeakscanError
from leakscan.model import ScanResult
from leakscan.policy import install as _install_policy
from leakscan.report.safe_text import terminal
from leakscan.sources.interface import Source, SourceOptions
from leakscan.userinfo import hide_userinfo

log = logging.getLogger("leakscan")

FormatOpt = Annotated[
    str,
    typer.Option("--format", "-f", help="table, json, jsonl, sarif, gitlab, junit or html."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write the report to this file."),
]
ShowSecretsOpt = Annotated[
    bool, typer.Option("--show-secrets", help="Print secrets in clear (redacted by default).")
]
NoProgressOpt = Annotated[bool, typer.Option("--no-progress", help="Never draw progress bars.")]
VerboseOpt = Annotated[
    int,
    typer.Option("--verbose", "-v", count=True, help="List skips; -vv adds debug logs."),
]
MinConfidenceOpt = Annotated[
    str, typer.Option("--min-confidence", help="Report findings of at least: low, medium, high.")
]
RulesOpt = Annotated[
    list[Path] | None, typer.Option("--rules", help="Extra rule file or folder (repeatable).")
]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="Glob of paths not to scan (repeatable).")
]
ScanBinaryOpt = Annotated[bool, typer.Option("--scan-binary", help="Also scan binary files.")]
BaselineOpt = Annotated[
    Path | None,
    typer.Option("--baseline", help="Baseline file: findings in it are not reported."),
]
FailOnOpt = Annotated[
    str | None,
    typer.Option(
        "--fail-on",
        help="Exit 1 only for findings of this severity or above, or (with --validate) "
        "'valid': only for live credentials.",
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Worker processes for large scans (0: one per core, "
        "1: none; default $LEAKSCAN_JOBS or 0).",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Config file (default: leakscan.toml).")
]
# limits (docs/security.md): a limit hit is reported in the output's "skipped" list
MaxFileSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-file-size",
        help="Skip (and report) files larger than this (bytes, or 10K/64M/1G; default 256M).",
    ),
]
MaxLayerSizeOpt = Annotated[
    str | None,
    typer.Option(
        "--max-layer-size", help="Images: stop a layer that inflates beyond this (default 64G)."
    ),
]
MaxRatioOpt = Annotated[
    int | None,
    typer.Option(
        "--max-ratio", help="Decompression ratio above which content is a bomb (default 200)."
    ),
]
MaxArchiveDepthOpt = Annotated[
    int | None,
    typer.Option(
        "--max-archive-depth",
        help="Open nested archives to this depth (default 3; 0 = do not open archives).",
    ),
]
RegexTimeoutOpt = Annotated[
    float | None,
    typer.Option("--regex-timeout", help="Seconds per precise regex attempt (default 1.0)."),
]
MaxHitsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-hits-per-rule",
        help="Hits of one rule examined per file (default 10000; a high-confidence rule's "
        "full-pattern hits are all examined).",
    ),
]
MaxRegionsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-decoded-regions",
        help="Encoded regions (base64, hex, ...) decoded and scanned per file (default 2000).",
    ),
]
LIMIT_KEYS = (
    "max_file_size",
    "max_layer_size",
    "max_ratio",
    "max_archive_depth",
    "regex_timeout",
    "max_hits_per_rule",
    "max_decoded_regions",
)


@dataclass(slots=True)
class Options:
    format: str = "table"
    output: Path | None = None
    show_secrets: bool = False
    no_progress: bool = False
    verbose: int = 0
    min_confidence: str = "low"
    rules: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    scan_binary: bool = False
    baseline: Path | None = None
    fail_on: str | None = None
    config: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def options_from(**kwargs: Any) -> Options:
    """Build Options from a command's keyword arguments (unknown keys go to ``extra``)."""
    known = set(Options.__slots__)
    opts = Options()
    for key, value in kwargs.items():
        if key == "format" and not isinstance(value, str):
            opts.extra["formats"] = list(value or ())  # -f given N times: checked by run_scan
            value = value[-1] if value else "table"
        if key in known:
            if key in ("rules", "exclude"):
                value = tuple(value or ())
            setattr(opts, key, value)
        else:
            opts.extra[key] = value
    return opts


def fail(message: str, verbose: int = 0) -> NoReturn:
    """One line on stderr and exit 2."""
    typer.echo(f"leakscan: error: {terminal(hide_userinfo(message))}", err=True)
    raise typer.Exit(int(ExitCode.ERROR))


class RedactingFormatter(logging.Formatter):
    """Log lines (tracebacks included) with any URL's user:password part shown as ``***``."""

    def format(self, record: logging.LogRecord) -> str:
        text = hide_userinfo(super().format(record))
        return "\n".join(terminal(line) for line in text.split("\n"))


def setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING
    env_level = os.environ.get("LEAKSCAN_LOGLEVEL")
    if env_level:
        level = getattr(logging, env_level.upper(), level)
    logger = logging.getLogger("leakscan")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter("leakscan: %(levelname)s: %(message)s"))
        logger.addHandler(handler)


def parse_size(text: str, flag: str) -> int:
    """``1048576``, ``512K``, ``64M``, ``1G`` (powers of 1024) → bytes; UsageError otherwise."""
    from leakscan.errors import UsageError

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


def _apply_limits(opts: Options, source_options: SourceOptions, config: ScanConfig) -> None:
    """The --max-* and --regex-timeout flags, when given (a flag left out keeps the default)."""
    from leakscan.errors import UsageError

    extra = opts.extra
    if extra.get("max_file_size") is not None:
        source_options.max_file_bytes = parse_size(extra["max_file_size"], "--max-file-size")
    if extra.get("max_layer_size") is not None:
        source_options.max_layer_bytes = parse_size(extra["max_layer_size"], "--max-layer-size")
    if extra.get("max_ratio") is not None:
        if extra["max_ratio"] < 2:
            raise UsageError("--max-ratio must be at least 2")
        source_options.max_ratio = extra["max_ratio"]
    if extra.get("max_archive_depth") is not None:
        if extra["max_archive_depth"] < 0:
            raise UsageError("--max-archive-depth must be 0 or more")
        source_options.archive_depth = extra["max_archive_depth"]
    if extra.get("regex_timeout") is not None:
        if not extra["regex_timeout"] > 0:
            raise UsageError("--regex-timeout must be more than 0 seconds")
        config.regex_timeout = float(extra["regex_timeout"])
    for key, flag in (
        ("max_hits_per_rule", "--max-hits-per-rule"),
        ("max_decoded_regions", "--max-decoded-regions"),
    ):
        if extra.get(key) is not None:
            if extra[key] < 1:
                raise UsageError(f"{flag} must be at least 1")
            setattr(config, key, int(extra[key]))


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


def scan_config(opts: Options) -> ScanConfig:
    """The engine configuration for these options (config file applied by its module)."""
    source_options = SourceOptions(exclude=opts.exclude, scan_binary=opts.scan_binary)
    source_options.registry_timeout = registry_timeout()
    if opts.extra.get("platform"):
        source_options.platform = opts.extra["platform"]
    if opts.extra.get("as_"):
        source_options.force_kind = opts.extra["as_"]
    config = ScanConfig(
        rule_paths=opts.rules,
        min_confidence=opts.min_confidence,
        options=source_options,
    )
    key = os.environ.get("LEAKSCAN_FINGERPRINT_KEY")
    if key:
        config.fingerprint_key = key.encode()
    _apply_limits(opts, source_options, config)
    config.jobs = _jobs(opts.extra.get("jobs"))
    return config


def _jobs(flag: int | None) -> int:
    """Worker processes: --jobs, else $LEAKSCAN_JOBS, else 0 (one per core)."""
    if flag is not None:
        value: object = flag
    else:
        value = os.environ.get("LEAKSCAN_JOBS", "0")
    try:
        jobs = int(str(value))
    except ValueError:
        raise LeakscanError(f"--jobs / LEAKSCAN_JOBS must be a number, not {value!r}") from None
    if jobs < 0:
        raise LeakscanError("--jobs must be 0 (one per core) or more")
    return jobs


@contextmanager
def _progress(opts: Options) -> Iterator[Any]:
    from leakscan.cli.progress import TqdmProgress

    progress = TqdmProgress(enabled=not opts.no_progress and sys.stderr.isatty())
    if progress.enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm(loggers=[logging.getLogger("leakscan")]):
            yield progress
    else:
        yield progress
    progress.close()


# hooks that later modules add (baseline, config file, allow comments): result -> result
RESULT_FILTERS: list[Callable[[ScanResult, Options], ScanResult]] = []
# hooks that adjust the configuration before the scan (config file)
CONFIG_HOOKS: list[Callable[[ScanConfig, Options], None]] = []

_install_policy(CONFIG_HOOKS, RESULT_FILTERS)  # config file, inline allows, baseline


def prepared_config(opts: Options) -> ScanConfig:
    """The engine configuration with the policy hooks applied (config file, inline allows)."""
    config = scan_config(opts)
    for hook in CONFIG_HOOKS:
        hook(config, opts)
    return config


def filtered(result: ScanResult, opts: Options) -> ScanResult:
    """A result after the policy filters (inline allows, baseline)."""
    for result_filter in RESULT_FILTERS:
        result = result_filter(result, opts)
    return validation.validated(result, opts)  # --validate: asks providers (else nothing)


def exit_code(result: ScanResult, opts: Options) -> int:
    if result.errors:
        return int(ExitCode.ERROR)
    findings = result.findings
    if opts.fail_on == validation.FAIL_ON_VALID:
        return int(ExitCode.FINDINGS if validation.live(result) else ExitCode.CLEAN)
    if opts.fail_on:
        from leakscan.model import SEVERITIES, rank

        floor = rank(opts.fail_on, SEVERITIES)
        findings = [f for f in findings if rank(f.severity, SEVERITIES) >= floor]
    return int(ExitCode.FINDINGS if findings else ExitCode.CLEAN)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # handled as Ctrl-C: the findings so far are reported, exit 2


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled, ``timeout``, ``docker stop``) behaves like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_scan(make_sources: Callable[[SourceOptions], Iterable[Source]], opts: Options) -> NoReturn:
    """Scan, report, exit. Errors become one line and exit 2; findings are still written."""
    with sigterm_as_interrupt():
        _run_scan(make_sources, opts)


def _run_scan(make_sources: Callable[[SourceOptions], Iterable[Source]], opts: Options) -> NoReturn:
    setup_logging(opts.verbose)
    from leakscan.cli import output
    from leakscan.model import CONFIDENCES, SEVERITIES

    try:
        if "formats" in opts.extra:
            output.single_format(opts.extra["formats"])  # -f twice is an error, not a pick
        if opts.min_confidence not in CONFIDENCES:
            raise LeakscanError(f"--min-confidence must be one of {', '.join(CONFIDENCES)}")
        if opts.fail_on and opts.fail_on not in (*SEVERITIES, validation.FAIL_ON_VALID):
            raise LeakscanError(f"--fail-on must be one of {', '.join(SEVERITIES)} or valid")
        validation.check_options(opts)
        config = prepared_config(opts)
        specs = output.report_specs(
            opts.format,
            opts.output,
            opts.extra.get("report") or (),
            format_given=_format_given(opts),
        )
        reports = output.reporters(specs)
        with _progress(opts) as progress:
            result = filtered(scan(make_sources, config, progress), opts)
        texts = [
            (spec, report.render(result, show_secrets=opts.show_secrets))
            for spec, report in reports
        ]
    except LeakscanError as exc:
        if opts.verbose >= 2:
            log.exception("error")
        fail(str(exc), opts.verbose)
    except typer.Exit:
        raise
    except KeyboardInterrupt:  # before or after the scan (during it, the scan reports it)
        fail("interrupted: the scan did not complete")
    except Exception as exc:  # a bug or an unforeseen input: one line, never a traceback
        if opts.verbose >= 2:
            log.exception("unexpected error")
        fail(f"unexpected {type(exc).__name__}: {exc} (run with -vv for details)")
    unwritten = []
    for spec, text in texts:
        try:
            output.write(text, spec.output)
        except LeakscanError as exc:
            unwritten.append(str(exc))
    code = exit_code(result, opts)
    for line in summary_lines(result, opts, failed=code == int(ExitCode.FINDINGS)):
        typer.echo(line, err=True)
    if unwritten:
        for message in unwritten:
            typer.echo(f"leakscan: error: {terminal(hide_userinfo(message))}", err=True)
        code = int(ExitCode.ERROR)
    raise typer.Exit(code)


def _format_given(opts: Options) -> bool:
    from leakscan.policy import explicit

    return explicit("format", opts.format) or opts.format != "table"


def summary_lines(result: ScanResult, opts: Options, *, failed: bool) -> list[str]:
    """What stderr says after a scan (leakscan.cli.summary)."""
    from leakscan.cli import summary

    outcome = opts.extra.get("baseline_outcome")
    left_out = summary.LeftOut(
        baseline=getattr(outcome, "suppressed", 0),
        inline=int(opts.extra.get("allowed_inline", 0)),
        below_confidence=result.stats.below_min_confidence,
        min_confidence=opts.min_confidence,
    )
    return summary.lines(
        result,
        left_out,
        failed=failed,
        verbose=opts.verbose,
        staged=bool(opts.extra.get("staged")),
    )


def write_report(text: str, opts: Options) -> None:
    """One report to ``opts.output`` or standard output (the audit command's writer)."""
    from leakscan.cli import output

    try:
        output.write(text, opts.output)
    except LeakscanError as exc:
        fail(str(exc))


# -- the shared options, declared once -------------------------------------------------------
# (name, annotated type, default) of every shared option, by group
REPORT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("format", FormatsOpt, None),
    ("report", ReportOpt, None),
    ("output", OutputOpt, None),
    ("show_secrets", ShowSecretsOpt, False),
    ("no_progress", NoProgressOpt, False),
    ("verbose", VerboseOpt, 0),
    ("min_confidence", MinConfidenceOpt, "low"),
    ("rules", RulesOpt, None),
    ("baseline", BaselineOpt, None),
    ("fail_on", FailOnOpt, None),
    ("config", ConfigOpt, None),
    ("regex_timeout", RegexTimeoutOpt, None),
    ("max_hits_per_rule", MaxHitsOpt, None),
    ("max_decoded_regions", MaxRegionsOpt, None),
    *validation.VALIDATE_OPTIONS,
)
CONTENT_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("exclude", ExcludeOpt, None),
    ("scan_binary", ScanBinaryOpt, False),
    ("jobs", JobsOpt, None),
    ("max_file_size", MaxFileSizeOpt, None),
    ("max_ratio", MaxRatioOpt, None),
    ("max_archive_depth", MaxArchiveDepthOpt, None),
)
LAYER_OPTIONS: tuple[tuple[str, Any, Any], ...] = (("max_layer_size", MaxLayerSizeOpt, None),)


def scan_options(
    *groups: tuple[tuple[str, Any, Any], ...], report: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options of ``groups`` (and REPORT_OPTIONS unless the
    command writes no report).

    The command declares only its own arguments plus ``opts: Options``; the decorator adds
    the shared options to the signature typer reads, and calls the command with them
    gathered in ``opts`` (the command's own arguments land in ``opts.extra`` too).
    """
    shared = (REPORT_OPTIONS if report else ()) + tuple(item for group in groups for item in group)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != "opts"
        ]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
            for name, annotation, default in shared
        ]
        names = [name for name, _, _ in shared]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return func(opts=options_from(**values, **kwargs), **kwargs)

        parameters = own + added
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        del command.__wrapped__  # typer must read the signature above, not the function's
        return command

    return decorate


def read_password(username: str | None, password_stdin: bool) -> str | None:
    """The registry password from standard input (``--password-stdin``), never from an
    argument; ``None`` when no login was asked for. A half-given login exits 2."""
    if password_stdin:
        if not username:
            fail("--password-stdin needs --username")
        return sys.stdin.readline().rstrip("\r\n")
    if username:
        fail("--username needs --password-stdin (passwords are never taken as arguments)")
    return None
