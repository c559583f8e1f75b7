"""The one HTTP client of validation: timeouts, no redirects, bounded bodies, safe errors.

Redirects are never followed (a credential must not travel to a host the provider's answer
names); a proxy from the environment is used for provider hosts but never for loopback.
Errors name the host only: a URL can carry a secret (Telegram puts the token in the path).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from leakscan import __version__
from leakscan.validate.endpoints import is_loopback_url
from leakscan.validate.interface import TransportError

MAX_BODY = 1 << 20  # an answer larger than this is cut (none of the calls needs more)
USER_AGENT = f"leakscan/{__version__} (credential validation)"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8", "replace"))
        except ValueError:
            return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class HttpClient:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        context = ssl.create_default_context()
        self._direct = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            _NoRedirect(),
            urllib.request.HTTPSHandler(context=context),
        )
        self._proxied = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=context)
        )

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        host = urlsplit(url).hostname or "?"
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        all_headers.update(headers or {})
        request = urllib.request.Request(url, data=body, headers=all_headers, method=method)
        opener = self._direct if is_loopback_url(url) else self._proxied
        try:
            with opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, _lower(answer.headers), answer.read(MAX_BODY))
        except urllib.error.HTTPError as exc:
            try:
                data = exc.read(MAX_BODY)
            except OSError:
                data = b""
            return Response(exc.code, _lower(exc.headers), data)
        except TimeoutError:
            raise TransportError(f"{host}: timed out after {self.timeout:g}s") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise TransportError(f"{host}: timed out after {self.timeout:g}s") from None
            text = getattr(reason, "strerror", None) or type(reason).__name__
            raise TransportError(f"{host}: {text}") from None
        except (OSError, ValueError) as exc:
            raise TransportError(f"{host}: {type(exc).__name__}") from None


def _lower(headers: Message | None) -> dict[str, str]:
    if headers is None:
        return {}
    return {k.lower(): v for k, v in headers.items()}
