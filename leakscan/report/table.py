"""The terminal report: findings grouped by secret, each with its locations.

Each finding is a header (severity, rule name, redacted value), its rule line, and its
locations; a file location shows its line with the secret masked and a caret under it, an
image layer its full ``created_by`` wrapped under it. Colour (severity) only when asked for:
the CLI asks when standard output is a colour terminal and ``NO_COLOR`` is not set.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from leakscan.engine.redact import redact
from leakscan.locations import FileLocation, ImageLayerLocation, location_of
from leakscan.model import Finding, Location, ScanResult, Validation
from leakscan.report.safe_text import terminal

_SEVERITY_MARK = {"critical": "CRIT", "high": "HIGH", "medium": "MED ", "low": "LOW "}
# ANSI SGR per severity: bold red, red, yellow, cyan
_SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36"}
_INDENT = "     "
#: files larger than this are not re-read to show the line of a finding
MAX_CONTEXT_FILE = 16 * 1024 * 1024
_CONTEXT_BEFORE = 32  # characters kept left of the secret on a long line


def describe(loc: Location, created_by: bool = True) -> str:
    """One line that says where: ``app:1 layer 4 (sha256:0123456789ab) app/.env:4
    [deleted in layer 6]  (COPY . /app)``; ``created_by`` in full unless left out."""
    text = location_of(loc.provenance).label(loc.line, loc.column, created_by)
    if loc.decoded:
        text += f" (decoded {'+'.join(loc.decoded)})"
    if loc.provenance.vendor:
        text += " [unmodified vendor file]"
    return text


def validation_mark(v: Validation) -> str:
    """``VALID octocat (scopes: repo)`` / ``invalid (HTTP 401)`` / ``unsupported``."""
    text = "LIVE: valid" if v.status == "valid" else v.status
    extra = v.identity if v.status == "valid" else v.detail
    return terminal(f"{text}{' ' + extra if extra else ''}")


def _mask_of(secret: str) -> str:
    """The secret as its line shows it: redacted on its own, without the context a
    finding's preview adds (the line holds that context already)."""
    return redact(secret).split("\n", 1)[0]


class _Lines:
    """Lines of plain files, read once each (bounded), to show a finding's line."""

    def __init__(self) -> None:
        self._cache: dict[str, list[bytes] | None] = {}

    def line(self, path: str, number: int) -> bytes | None:
        if path not in self._cache:
            lines: list[bytes] | None = None
            p = Path(path)
            try:
                if "!" not in path and p.is_file() and p.stat().st_size <= MAX_CONTEXT_FILE:
                    lines = p.read_bytes().split(b"\n")
            except OSError:
                lines = None
            self._cache[path] = lines
        lines = self._cache[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1].rstrip(b"\r")


def _mask(text: str, others: dict[str, str]) -> str:
    for secret, shown in others.items():
        if secret in text:
            text = text.replace(secret, shown)
    return text


def context(
    raw: bytes,
    column: int | None,
    secret: str,
    shown: str,
    width: int,
    others: dict[str, str] | None = None,
) -> tuple[str, int, int] | None:
    """(the line with the secret replaced by ``shown``, where it starts, its length), cut
    to ``width`` around the secret; ``None`` when the secret is not on the line. ``others``
    (secret -> what to show) masks the other secrets found on the same line."""
    first = secret.split("\n", 1)[0]
    if not first:
        return None
    start = None
    if column is not None and column >= 1:
        before = raw[: column - 1].decode("utf-8", "replace")
        text = raw.decode("utf-8", "replace")
        if text[len(before) :].startswith(first):
            start = len(before)
    text = raw.decode("utf-8", "replace")
    if start is None:
        found = text.find(first)
        if found < 0:
            return None
        start = found
    shown = shown.split("\n", 1)[0]
    left, right = text[:start], text[start + len(first) :]
    if others:
        left, right = _mask(left, others), _mask(right, others)
    left, right = terminal(left), terminal(right)
    if len(left) + len(shown) + len(right) > width and len(left) > _CONTEXT_BEFORE:
        left = "…" + left[-(_CONTEXT_BEFORE - 1) :]  # too long: the secret stays in view
    room = max(width - len(left) - len(shown), 8)
    if len(right) > room:
        right = right[: room - 1] + "…"
    return left + shown + right, len(left), len(shown)


class TableReporter:
    def __init__(self, max_locations: int = 10, width: int = 100, color: bool = False) -> None:
        self.max_locations = max_locations
        self.width = max(width, 60)
        self.color = color
        self._others: dict[str, str] = {}

    def _paint(self, severity: str, text: str) -> str:
        if not self.color:
            return text
        return f"\x1b[{_SEVERITY_COLOUR[severity]}m{text}\x1b[0m"

    def render(self, result: ScanResult, show_secrets: bool = False) -> str:
        out: list[str] = []
        lines = _Lines()
        # every secret of the run, masked wherever a shown line holds it (longest first)
        others = {
            first: first if show_secrets else _mask_of(f.secret)
            for f in sorted(result.findings, key=lambda f: -len(f.secret or ""))
            if f.secret and (first := f.secret.split("\n", 1)[0])
        }
        self._others = others
        for f in result.findings:
            value = f.secret if show_secrets and f.secret else f.redacted
            if "\n" in value:
                value = value.splitlines()[0] + " …"
            mark = self._paint(f.severity, _SEVERITY_MARK[f.severity])
            out.append(f"{mark} {terminal(f.rule_name)}  {terminal(value)}")
            out.append(
                f"{_INDENT}rule {f.rule_id}  confidence {f.confidence}  "
                f"fingerprint {f.fingerprint[:16]}"
            )
            if f.validation is not None:
                out.append(f"{_INDENT}{validation_mark(f.validation)}")
            for loc in f.locations[: self.max_locations]:
                shown = f.secret if show_secrets and f.secret else _mask_of(f.secret or "")
                out.extend(self._location(f, loc, shown, lines))
            if len(f.locations) > self.max_locations:
                out.append(f"{_INDENT}… and {len(f.locations) - self.max_locations} more locations")
            out.append("")
        # the totals, errors and next steps go to stderr (leakscan.cli.summary)
        return "\n".join(out) + "\n" if out else ""

    def _location(self, f: Finding, loc: Location, shown: str, lines: _Lines) -> list[str]:
        out = textwrap.wrap(
            terminal(describe(loc, created_by=False)),
            width=self.width,
            initial_indent=f"{_INDENT}- ",
            subsequent_indent=f"{_INDENT}    ",
            break_long_words=False,  # a path or digest stays whole
            break_on_hyphens=False,
        ) or [f"{_INDENT}- "]
        where = location_of(loc.provenance)
        created_by = where.created_by if isinstance(where, ImageLayerLocation) else None
        if created_by:
            label = f"{_INDENT}  created by "
            wrapped = textwrap.wrap(
                terminal(str(created_by)),
                width=self.width - len(label),
                break_on_hyphens=False,
            )
            for i, part in enumerate(wrapped):
                out.append((label if i == 0 else " " * len(label)) + part)
        path = where.path
        if (
            isinstance(where, FileLocation)
            and path
            and loc.line is not None
            and not loc.decoded
            and f.secret
            and "\n" not in f.secret  # a key block: its preview says it all
        ):
            raw = lines.line(str(path), loc.line)
            gutter = f"{_INDENT}  {loc.line:>5} │ "
            shown_line = (
                context(raw, loc.column, f.secret, shown, self.width - len(gutter), self._others)
                if raw is not None
                else None
            )
            if shown_line is not None:
                text, start, length = shown_line
                out.append(gutter + text)
                caret = self._paint(f.severity, "^" * max(length, 1))
                out.append(f"{_INDENT}  {'':>5} │ " + " " * start + caret)
        return out
