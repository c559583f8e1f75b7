"""What every fuzz target checks, and its budget.

The contract (docs/security.md): a parser of untrusted bytes returns what it read, reports a
:class:`~leakscan.model.Skip` with a reason, or raises leakscan's own error
(:class:`~leakscan.errors.LeakscanError`) with a one-line message. Nothing else escapes,
each input is parsed within a bounded time (the hypothesis deadline; pytest-timeout for the
whole target) and a bounded Python heap (:func:`bounded_memory`), and the findings made
before the bad bytes are kept (asserted by the targets where it applies).

Budget: ``make test`` runs each target with its small ``examples`` count;
``make fuzz`` sets ``LEAKSCAN_FUZZ_EXAMPLES`` (default 2000 there) for every target.
"""

from __future__ import annotations

import os
import re
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

from leakscan.errors import LeakscanError
from leakscan.model import ScanResult
from leakscan.sources.interface import Source, SourceOptions
from tests.hardening.helpers import run_sources

T = TypeVar("T")

#: heap one small input (a few KiB) may cost a parser, on top of what was in use before
MEMORY_LIMIT = 64 * 1024**2


def budget(examples: int, *, deadline: float = 10.0) -> Callable[[T], T]:
    """Hypothesis settings for a fuzz target: ``examples`` under ``make test``,
    ``LEAKSCAN_FUZZ_EXAMPLES`` under ``make fuzz``. ``deadline`` (seconds per input) is far
    above a normal input's cost (milliseconds): it is there to catch a hang or a blow-up,
    not to time the parser."""
    wanted = os.environ.get("LEAKSCAN_FUZZ_EXAMPLES", "").strip()
    return settings(  # type: ignore[return-value]
        max_examples=int(wanted) if wanted else examples,
        deadline=timedelta(seconds=deadline),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
        database=None,
        derandomize=False,
    )


@contextmanager
def bounded_memory(limit: int = MEMORY_LIMIT) -> Iterator[None]:
    """Fail when the Python heap grows by more than ``limit`` bytes at its peak inside."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if started:
            tracemalloc.stop()
    assert peak <= limit, f"one small input cost {peak} bytes of heap (limit {limit})"


def own_errors_only(call: Callable[[], T]) -> T | LeakscanError:
    """``call()``'s result, or the LeakscanError it raised (its message one line)."""
    try:
        return call()
    except LeakscanError as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip(), repr(exc)
        return exc


_UNEXPECTED = re.compile(r": unexpected [A-Za-z_.]+: ")


def scan_checked(
    sources: Iterable[Source], rules: Path | None, options: SourceOptions | None = None
) -> ScanResult:
    """Scan through the public API under :func:`bounded_memory`. The API turns any
    exception a source raises into an ``unexpected X`` error line (so a scan goes on): here
    such a line fails the target, as only leakscan's own errors are part of the contract."""
    with bounded_memory():
        result = run_sources(sources, rules, options)
    for error in result.errors:
        assert not _UNEXPECTED.search(error), error
    return result


def secrets_of(result: ScanResult) -> set[str]:
    return {f.secret for f in result.findings}


def drain(stream: Any) -> bytes:
    out = []
    while chunk := stream.read(65536):
        out.append(chunk)
    return b"".join(out)
