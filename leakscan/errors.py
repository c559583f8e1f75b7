"""One error base whose message a user can act on, and the exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    CLEAN = 0  # nothing found
    FINDINGS = 1  # secrets found
    ERROR = 2  # the scan could not complete (bad input, unreachable source, ...)


class LeakscanError(Exception):
    """An error with a one-line message meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SourceError(LeakscanError):
    """A target could not be scanned (the message says which and why)."""


class UsageError(LeakscanError):
    """The command line or configuration is wrong."""


class RuleError(LeakscanError):
    """A rule file or rule is invalid; the message names the file and the rule."""
