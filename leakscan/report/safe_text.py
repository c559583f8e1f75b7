"""Names from untrusted input made safe to show: in a terminal, in XML, in JSON, in a file.

File and member names come from the scanned bytes. A name that is not UTF-8 arrives as a
surrogate-escaped ``str`` (``caf\\udce9``), which no UTF-8 writer accepts; a name may hold
ESC, BEL, an OSC 52 sequence (writes the clipboard) or a newline (forges a report line); XML
1.0 forbids most control characters outright. Each reporter passes what it prints through the
function for its medium:

- :func:`unsurrogate`: every format: a surrogate-escaped byte is written ``\\xe9``;
- :func:`terminal`: the table, stderr lines and HTML: control, C1 and bidirectional
  formatting characters are written as ``\\x1b``, ``\\n``, ``\\u202e``;
- :func:`xml_text`: JUnit and SARIF: what XML 1.0 cannot hold, and other control
  characters, are written the same way;
- :func:`deep`: one of them applied to every string (keys too) of a JSON document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 controls, DEL, C1 controls, and the bidirectional overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: what XML 1.0 forbids, plus the other controls and bidi formatting (shown, not interpreted)
_XML_BAD = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    named = _NAMED.get(char)
    if named is not None:
        return named
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _sub(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: _escape(m.group()), text)


def unsurrogate(text: str) -> str:
    """``text`` with each lone surrogate written as an escape (so it encodes as UTF-8)."""
    return _sub(_SURROGATE, text) if _SURROGATE.search(text) else text


def terminal(text: str) -> str:
    """``text`` safe to print on one terminal line: controls escaped, nothing interpreted."""
    return _sub(_CONTROL, unsurrogate(text))


def xml_text(text: str) -> str:
    """``text`` that XML 1.0 can hold (tab and line breaks kept), the rest escaped."""
    return _sub(_XML_BAD, unsurrogate(text))


def deep(obj: Any, fn: Callable[[str], str]) -> Any:
    """``obj`` (a JSON-like tree) with ``fn`` applied to every string, keys included."""
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {fn(k) if isinstance(k, str) else k: deep(v, fn) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [deep(v, fn) for v in obj]
    return obj
