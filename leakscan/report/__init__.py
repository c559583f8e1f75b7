"""Reporters by format name.

A reporter's module is imported when its format is asked for: a scan that writes JSON does
not import the table, SARIF, JUnit (``xml.etree``) or HTML reporters.
"""

from __future__ import annotations

import importlib

from leakscan.errors import UsageError
from leakscan.report.interface import Reporter

#: format -> (module under ``leakscan.report``, class) of the reporters shipped here
_BUILTIN = {
    "table": ("table", "TableReporter"),
    "json": ("json_report", "JsonReporter"),
    "jsonl": ("json_report", "JsonLinesReporter"),
    "sarif": ("sarif", "SarifReporter"),
    "gitlab": ("gitlab", "GitlabReporter"),
    "junit": ("junit", "JunitReporter"),
    "html": ("html", "HtmlReporter"),
}
REPORTERS: dict[str, type] = {}  # formats added with register(), and those imported so far


def register(name: str, cls: type) -> None:
    """Add a format (other report modules call this)."""
    REPORTERS[name] = cls


def reporter(name: str) -> Reporter:
    cls = REPORTERS.get(name) or _builtin(name)
    if cls is None:
        names = sorted(set(REPORTERS) | set(_BUILTIN))
        raise UsageError(f"unknown format {name!r}; choose from {', '.join(names)}")
    instance: Reporter = cls()
    return instance


def _builtin(name: str) -> type | None:
    if name not in _BUILTIN:
        return None
    module_name, class_name = _BUILTIN[name]
    try:
        module = importlib.import_module(f"leakscan.report.{module_name}")
    except ModuleNotFoundError as exc:  # a reporter not installed in this tree
        if exc.name != f"leakscan.report.{module_name}":
            raise
        return None
    cls: type = getattr(module, class_name)
    REPORTERS.setdefault(name, cls)
    return cls
