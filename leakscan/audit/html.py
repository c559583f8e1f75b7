"""The audit report as one self-contained HTML page."""

from __future__ import annotations

from typing import Any

from leakscan.model import ScanResult


def render(result: ScanResult, audit: dict[str, Any], show_secrets: bool = False) -> str:
    from leakscan.report.html import HtmlReporter

    return HtmlReporter().render(result, show_secrets=show_secrets)
