"""``leakscan watch``: scan images and containers as they appear on a Docker host."""

from __future__ import annotations

import hashlib
import json
import signal
import sys
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import IO, Annotated, Any

import typer

from leakscan.cli import validation
from leakscan.cli.exits import fail
from leakscan.cli.options import (
    CONTENT_OPTIONS,
    LAYER_OPTIONS,
    REPORT_OPTIONS,
    Options,
    scan_options,
)
from leakscan.cli.run import log, prepared, setup_logging
from leakscan.errors import ExitCode, LeakscanError, UsageError

# the policy and redaction options of `scan`; the output is JSON lines, so no --format
_NOT_WATCH = ("format", "report", "output", "no_progress", "fail_on")
_POLICY_OPTIONS = tuple(o for o in REPORT_OPTIONS if o[0] not in _NOT_WATCH)


def _policy_key(opts: Options, config: Any) -> str:
    """What, besides the rules, decides what a unit reports: a change scans units again (the
    findings already emitted are still not emitted twice)."""
    baseline = b""
    if opts.baseline is not None:
        try:
            baseline = Path(opts.baseline).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read baseline {opts.baseline}: {exc.strerror}") from None
    doc = {
        "min_confidence": config.policy.min_confidence,
        "enable": list(config.enable),
        "disable": list(config.disable),
        "exclude": list(config.options.exclude),
        "scan_binary": config.options.scan_binary,
        "baseline": hashlib.sha256(baseline).hexdigest(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@scan_options(_POLICY_OPTIONS, CONTENT_OPTIONS, LAYER_OPTIONS, report=False)
def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Backfill what is not seen yet, then exit (cron).")
    ] = False,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="SQLite state file (default: watch.sqlite in the user cache dir)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Append the JSON lines to this file (default stdout)."),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            envvar="LEAKSCAN_WEBHOOK",
            show_envvar=False,
            help="Also POST each finding (JSON) to this http(s) URL (or $LEAKSCAN_WEBHOOK: "
            "keeps a URL with a token out of the process list).",
        ),
    ] = None,
    queue_size: Annotated[
        int,
        typer.Option(
            "--queue-size",
            help="Events held while scanning; more are dropped, reported and caught by a backfill.",
        ),
    ] = 1000,
    opts: Options | None = None,
) -> None:
    """Scan every image and container of the Docker host not seen yet, then each new one as it
    appears; each new finding is one JSON line."""
    assert opts is not None
    setup_logging(opts.verbose)
    code = int(ExitCode.CLEAN)
    try:
        if queue_size < 1:
            raise UsageError("--queue-size must be at least 1")
        code = _watch(opts, once, state, output, webhook, queue_size)
    except LeakscanError as exc:
        fail(str(exc), opts.verbose)
    except KeyboardInterrupt:  # a second SIGINT/SIGTERM while a unit was in hand
        fail("interrupted: the unit in hand was not recorded and is scanned again next time")
    except Exception as exc:  # a bug or an unforeseen input: one line, never a traceback
        if opts.verbose >= 2:
            log.exception("unexpected error")
        fail(f"unexpected {type(exc).__name__}: {exc} (run with -vv for details)")
    raise typer.Exit(code)


def _watch(
    opts: Options,
    once: bool,
    state_path: Path | None,
    output: Path | None,
    webhook: str | None,
    queue_size: int,
) -> int:
    from leakscan.cli.content_cache import open_cache
    from leakscan.watch.daemon import DockerDaemon
    from leakscan.watch.emit import JsonlSink, WebhookSender, webhook_host
    from leakscan.watch.loop import Watcher
    from leakscan.watch.scanning import UnitScanner
    from leakscan.watch.state import WatchState, default_state_path

    webhook = webhook or None  # an empty $LEAKSCAN_WEBHOOK: none
    if webhook is not None:
        webhook_host(webhook)  # a bad URL is a usage error before anything starts
    config = prepared(opts)  # flags checked, the policy built (the baseline read) once
    if opts.jobs is None:
        config.jobs = 1  # units are small and come one at a time: no worker pool
    with ExitStack() as stack:
        stream: IO[str] = sys.stdout
        if output is not None:
            try:
                stream = stack.enter_context(output.open("a", encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"cannot open {output}: {exc.strerror}") from None
        sink = JsonlSink(stream)
        sender = WebhookSender(webhook) if webhook is not None else None
        if sender is not None:
            stack.callback(sender.close)

        def emit(record: dict[str, Any]) -> None:
            sink.write(record)
            if sender is not None:
                sender.send(record)

        store = WatchState(state_path or default_state_path())
        stack.callback(store.close)
        cache = open_cache(config)  # the one scan image and audit use
        if cache is not None:
            stack.callback(cache.close)
        units = UnitScanner(
            config, lambda r: validation.validated(r, opts), _policy_key(opts, config), cache=cache
        )
        stack.callback(units.close)
        watcher = Watcher(
            DockerDaemon,
            units,
            store,
            emit,
            once=once,
            queue_size=queue_size,
            show_secrets=opts.show_secrets,
        )
        _on_signals(watcher.stop, stack)
        summary = watcher.run()
    for error in summary.errors if once else ():
        typer.echo(f"leakscan: error: {error}", err=True)
    if summary.errors and once:
        return int(ExitCode.ERROR)
    if once:
        return int(ExitCode.FINDINGS if summary.emitted else ExitCode.CLEAN)
    return int(ExitCode.CLEAN)


def _on_signals(stop: Any, stack: ExitStack) -> None:
    """SIGTERM/SIGINT: finish the unit in hand, record it, exit; a second one interrupts."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping["asked"]:
            raise KeyboardInterrupt
        stopping["asked"] = True
        stop()

    stopping = {"asked": False}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous = signal.signal(sig, handler)
        except ValueError:  # not the main thread (tests drive the command in a thread)
            continue
        stack.callback(signal.signal, sig, previous)


def register(app: typer.Typer, scan_app: typer.Typer) -> None:
    app.command(
        "watch", help="Watch a Docker host: scan new images and containers as they appear."
    )(watch)
