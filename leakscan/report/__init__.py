"""Reporters by format name."""

from __future__ import annotations

from leakscan.errors import UsageError
from leakscan.report.interface import Reporter
from leakscan.report.json_report import JsonLinesReporter, JsonReporter
from leakscan.report.sarif import SarifReporter
from leakscan.report.table import TableReporter

REPORTERS: dict[str, type] = {
    "table": TableReporter,
    "json": JsonReporter,
    "jsonl": JsonLinesReporter,
    "sarif": SarifReporter,
}


def register(name: str, cls: type) -> None:
    """Add a format (other report modules call this)."""
    REPORTERS[name] = cls


def reporter(name: str) -> Reporter:
    _load_optional()
    cls = REPORTERS.get(name)
    if cls is None:
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(sorted(REPORTERS))}")
    instance: Reporter = cls()
    return instance


def _load_optional() -> None:
    import importlib

    for module in ("gitlab", "junit", "html"):
        try:
            importlib.import_module(f"leakscan.report.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"leakscan.report.{module}":
                raise
