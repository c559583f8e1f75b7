"""``user:password@`` kept out of messages, logs and reports.

``https://alice:pw@host/x`` becomes ``https://***@host/x``; a bare ``alice:pw@host:5000/x``
(a registry or image address typed that way) becomes ``***@host:5000/x``. An image pinned by
digest (``app:1.0@sha256:…``) is left alone.
"""

from __future__ import annotations

import re

_WITH_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_BARE = re.compile(
    r"(?<![\w.:/%+-])[\w.%+-]+:[^\s/@'\"]+@(?!sha(?:256|384|512):)"
    r"(?=[\w.-]+(?:[:/\s'\"]|$))"
)


def hide_userinfo(text: str) -> str:
    """``text`` with every URL's (or address's) user:password part shown as ``***``."""
    if "@" not in text:
        return text
    return _BARE.sub("***@", _WITH_SCHEME.sub(r"\1***@", text))
