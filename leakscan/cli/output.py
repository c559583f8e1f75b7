"""Where a scan's reports go: ``--report FORMAT[=FILE]`` (repeatable), ``-f/--format`` and
``-o/--output``; one scan renders every report.

``-f FORMAT [-o FILE]`` is one report. ``--report`` adds more: ``--report sarif=out.sarif
--report table`` writes the SARIF file and prints the table. At most one report goes to
standard output; ``FILE`` ``-`` means standard output.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from leakscan.errors import UsageError
from leakscan.report import reporter
from leakscan.report.interface import Reporter
from leakscan.report.safe_text import unsurrogate

FormatsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="table, json, jsonl, sarif, gitlab, junit or html (default: table).",
        show_default=False,
    ),
]
ReportOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--report",
        metavar="FORMAT[=FILE]",
        help="Also write this report, e.g. sarif=leakscan.sarif (repeatable; "
        "no FILE: standard output).",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """One report of a scan: its format and file (``None``: standard output)."""

    format: str
    output: Path | None

    def label(self) -> str:
        return f"{self.format}={self.output}" if self.output else self.format


def single_format(formats: list[str] | str | None) -> str | None:
    """The one ``-f`` given (``None``: none); two or more are an error, never a silent pick."""
    if formats is None or isinstance(formats, str):
        return formats
    if len(formats) > 1:
        asked = " ".join(f"-f {f}" for f in formats)
        hint = " ".join(f"--report {f}={_example_file(f)}" for f in formats[:-1])
        raise UsageError(
            f"{asked}: one scan, one --format; for several reports use "
            f"--report FORMAT=FILE (e.g. {hint} -f {formats[-1]})"
        )
    return formats[0] if formats else None


def _example_file(fmt: str) -> str:
    ext = {"table": "txt", "jsonl": "jsonl", "junit": "xml", "gitlab": "json"}.get(fmt, fmt)
    return f"leakscan.{ext}"


def parse_report(text: str) -> ReportSpec:
    fmt, sep, file = text.partition("=")
    fmt = fmt.strip().lower()
    if not fmt or (sep and not file.strip()):
        raise UsageError(f"--report {text!r}: expected FORMAT or FORMAT=FILE (e.g. sarif=x.sarif)")
    output = None if not sep or file == "-" else Path(file)
    return ReportSpec(fmt, output)


def report_specs(
    fmt: str, output: Path | None, reports: list[str] | tuple[str, ...], format_given: bool
) -> list[ReportSpec]:
    """Every report to write. Without ``--report`` it is ``-f``/``-o`` (table by default);
    with it, ``-f``/``-o`` add one more only when given."""
    specs = [parse_report(r) for r in reports]
    if not specs or format_given or output is not None:
        specs.insert(0, ReportSpec(fmt, output))
    to_stdout = [s.format for s in specs if s.output is None]
    if len(to_stdout) > 1:
        raise UsageError(
            f"only one report can go to standard output, not {', '.join(to_stdout)}: "
            "give the others a file (--report FORMAT=FILE)"
        )
    files = [s.output for s in specs if s.output is not None]
    if len(set(files)) < len(files):
        raise UsageError("two reports would write the same file")
    return specs


def reporters(specs: list[ReportSpec]) -> list[tuple[ReportSpec, Reporter]]:
    """The reporter of each spec (an unknown format is an error before any scanning); a
    table printed on a colour terminal gets colour and the terminal's width."""
    out = []
    for spec in specs:
        report = reporter(spec.format)
        if spec.output is None and sys.stdout.isatty():
            from leakscan.report.table import TableReporter

            if isinstance(report, TableReporter):
                report.color = colour_wanted(os.environ)
                report.width = max(shutil.get_terminal_size((100, 24)).columns, 60)
        out.append((spec, report))
    return out


def colour_wanted(environ: Mapping[str, str]) -> bool:
    """Colour on a terminal unless ``NO_COLOR`` is set (no-color.org) or ``TERM=dumb``."""
    return not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def write(text: str, output: Path | None) -> None:
    """A report to its file or to standard output (names already escaped by the reporters)."""
    text = unsurrogate(text)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
