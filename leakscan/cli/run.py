"""The one place a scan is run and reported: logging, progress, the reports, the summary on
standard error and the exit code.

:func:`run_scan` prints the report, writes the output files and exits with 0 (nothing found),
1 (findings) or 2 (the scan could not complete; findings made are still written).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import typer

from leakscan.api import ScanConfig, scan
from leakscan.cli import settings, validation
from leakscan.cli.exits import fail
from leakscan.cli.options import Options
from leakscan.errors import ExitCode, LeakscanError
from leakscan.model import ScanResult
from leakscan.policy.policy import Policy, left_out
from leakscan.report.safe_text import terminal
from leakscan.sources.interface import Source, SourceOptions
from leakscan.userinfo import hide_userinfo

if TYPE_CHECKING:
    from leakscan.cli.progress import TqdmProgress

log = logging.getLogger("leakscan")


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


@contextmanager
def _progress(opts: Options) -> Iterator[TqdmProgress]:
    from leakscan.cli.progress import TqdmProgress  # tqdm only when a scan runs

    progress = TqdmProgress(enabled=not opts.no_progress and sys.stderr.isatty())
    if progress.enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        with logging_redirect_tqdm(loggers=[logging.getLogger("leakscan")]):
            yield progress
    else:
        yield progress
    progress.close()


def exit_code(result: ScanResult, policy: Policy) -> int:
    if result.errors:
        return int(ExitCode.ERROR)
    return int(ExitCode.FINDINGS if policy.fails(result.findings) else ExitCode.CLEAN)


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


def prepared(opts: Options) -> ScanConfig:
    """Usage checks, then the run's configuration (its policy built once, here)."""
    settings.check(opts)
    validation.check_options(opts)
    return settings.scan_config(opts)


def run_scan(
    make_sources: Callable[[SourceOptions], Iterable[Source]],
    opts: Options,
    content_cache: bool = False,
) -> NoReturn:
    """Scan, report, exit. Errors become one line and exit 2; findings are still written.

    ``content_cache``: layers and contents scanned by earlier runs are not read again."""
    with sigterm_as_interrupt():
        _run_scan(make_sources, opts, content_cache)


def _run_scan(
    make_sources: Callable[[SourceOptions], Iterable[Source]],
    opts: Options,
    content_cache: bool = False,
) -> NoReturn:
    setup_logging(opts.verbose)
    from leakscan.cli import output

    try:
        if opts.formats:
            output.single_format(list(opts.formats))  # -f twice is an error, not a pick
        config = prepared(opts)
        specs = output.report_specs(
            opts.format, opts.output, opts.reports, format_given=bool(opts.formats)
        )
        reports = output.reporters(specs)
        cache = None
        if content_cache:
            from leakscan.cli.content_cache import open_cache

            cache = open_cache(config)
        try:
            with _progress(opts) as progress:
                result = scan(make_sources, config, progress, cache)
        finally:
            if cache is not None:
                cache.close()
        result = validation.validated(result, opts)  # --validate: asks providers (else nothing)
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
    code = exit_code(result, config.policy)
    for line in summary_lines(result, opts, failed=code == int(ExitCode.FINDINGS)):
        typer.echo(line, err=True)
    if unwritten:
        for message in unwritten:
            typer.echo(f"leakscan: error: {terminal(hide_userinfo(message))}", err=True)
        code = int(ExitCode.ERROR)
    raise typer.Exit(code)


def summary_lines(result: ScanResult, opts: Options, *, failed: bool) -> list[str]:
    """What stderr says after a scan (leakscan.cli.summary)."""
    from leakscan.cli import summary

    by_policy = left_out(result)
    left = summary.LeftOut(
        baseline=by_policy.baseline,
        inline=by_policy.inline,
        below_confidence=result.stats.below_min_confidence,
        min_confidence=opts.min_confidence,
    )
    return summary.lines(result, left, failed=failed, verbose=opts.verbose, staged=opts.staged)


def write_report(text: str, opts: Options) -> None:
    """One report to ``opts.output`` or standard output (the audit command's writer)."""
    from leakscan.cli import output

    try:
        output.write(text, opts.output)
    except LeakscanError as exc:
        fail(str(exc))


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
