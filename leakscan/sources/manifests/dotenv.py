"""``.env`` files: ``KEY=VALUE`` lines, ``export`` prefixes, quotes, comments, multi-line
quoted values. Lenient: lines that are not assignments are ignored."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s?(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
MAX_QUOTED_LINES = 200  # an unclosed quote does not swallow the rest of a file


@dataclass(frozen=True, slots=True)
class Assignment:
    name: str
    value: str
    line: int  # 1-based line of the key


def parse_dotenv(text: str) -> list[Assignment]:
    lines = text.splitlines()
    out: list[Assignment] = []
    i = 0
    while i < len(lines):
        m = _ASSIGN.match(lines[i])
        start = i
        i += 1
        if not m or lines[start].lstrip().startswith("#"):
            continue
        name, rest = m.group(1), m.group(2).strip()
        if rest[:1] in ("'", '"'):
            quote = rest[0]
            body = rest[1:]
            closing = _closing(body, quote)
            extra = 0
            while closing < 0 and i < len(lines) and extra < MAX_QUOTED_LINES:
                body += "\n" + lines[i]
                i += 1
                extra += 1
                closing = _closing(body, quote)
            if closing < 0:  # unclosed: take the first line as written
                i = start + 1
                value = rest[1:]
            else:
                value = body[:closing]
            if quote == '"':
                value = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(0)), value)
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        out.append(Assignment(name, value, start + 1))
    return out


def _closing(body: str, quote: str) -> int:
    escaped = False
    for pos, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\" and quote == '"':
            escaped = True
        elif char == quote:
            return pos
    return -1
