"""Base URLs: each provider's documented one, or one the user named (``PROVIDER=URL``).

A user-named endpoint must be https, or plain http on a loopback address (the tests' servers,
a local proxy). A credential never goes anywhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from leakscan.validate.interface import ValidationError


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, flag: str = "--validate-endpoint") -> str:
    """``url`` without a trailing slash, or ValidationError (https, or http on loopback)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(f"{flag}: not an http(s) URL: {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError(f"{flag}: give a base URL without user, query or fragment")
    if parts.scheme == "http" and not is_loopback_url(url):
        raise ValidationError(
            f"{flag}: plain http:// is accepted only for loopback addresses, not {parts.hostname}"
        )
    return url.rstrip("/")


def parse_endpoints(values: Iterable[str], providers: Iterable[str]) -> dict[str, str]:
    """``["github=https://ghe.example/api/v3", ...]`` -> ``{"github": "https://..."}``."""
    known = sorted(set(providers))
    out: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        name = name.strip().lower()
        if not sep or not name or not url:
            raise ValidationError(f"--validate-endpoint takes PROVIDER=URL, not {value!r}")
        if name not in known:
            raise ValidationError(
                f"--validate-endpoint: unknown provider {name!r}; one of {', '.join(known)}"
            )
        out[name] = check_url(url.strip())
    return out
