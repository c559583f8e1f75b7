"""What a reporter is: a scan result in, a document out."""

from __future__ import annotations

from typing import Protocol

from leakscan.model import ScanResult


class Reporter(Protocol):
    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        """The whole report as text."""
