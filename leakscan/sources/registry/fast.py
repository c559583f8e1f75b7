"""Small registry answers (manifests, their HEADs, tag lists) over plain ``http.client``.

An audit asks a manifest ``HEAD`` or ``GET`` per tag: through requests each costs about four
times the CPU of the request itself (preparing, merging settings, urllib3's pool), and that
CPU is taken from the registry when both run on one machine. Here each thread keeps its own
kept-alive connection per host, and a request is a status line and a few headers.

It answers only what it can answer as requests would: no proxy for the URL, no redirect (a
3xx answer is handed back as :data:`AGAIN`, and the caller asks again through requests), no
content encoding. TLS is verified against the same CA bundle requests uses
(``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, else certifi's). Failures are raised as the
requests exceptions the client already handles (``ConnectionError``, ``SSLError``,
``ConnectTimeout``, ``ReadTimeout``); the header deadline of :mod:`.watchdog` reaches the
connection's socket.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from leakscan.sources.registry.watchdog import deadline_fired, note_connection

__all__ = ["AGAIN", "Answer", "FastTransport"]

#: how a kept-alive connection closed by the server fails when it is used again (asked again
#: at once on a new connection, as browsers do: a manifest GET or HEAD changes nothing)
_CLOSED = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

#: returned by :meth:`FastTransport.send` when requests must answer (a redirect, an encoding)
AGAIN = None


class _Raw:
    """``resp.raw`` as the client reads it (``decode_content`` is moot: nothing is encoded)."""

    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self._resp = resp

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        try:
            return self._resp.read(amt)
        except (OSError, http.client.HTTPException) as exc:
            raise _dropped(exc) from None

    def read1(self, amt: int = -1, decode_content: bool = True) -> bytes:
        try:
            return self._resp.read1(amt)
        except (OSError, http.client.HTTPException) as exc:
            raise _dropped(exc) from None


class Answer:
    """The parts of a ``requests.Response`` the client reads."""

    def __init__(
        self, resp: http.client.HTTPResponse, conn: http.client.HTTPConnection, url: str
    ) -> None:
        self._resp, self._conn = resp, conn
        self.status_code = resp.status
        self.headers = resp.msg  # case-insensitive get()
        self.raw = _Raw(resp)
        self.url = url

    def close(self) -> None:
        """Done with it: a body read to its end leaves the connection for the next request."""
        resp = self._resp
        if resp.isclosed():
            return
        whole = resp.length == 0 and not resp.chunked  # read1 leaves it open at the end
        resp.close()
        if not whole:
            self._conn.close()  # the rest of the body would be read as the next answer


class FastTransport:
    """Per-thread kept-alive connections to the hosts of one client."""

    def __init__(
        self,
        *,
        verify: bool,
        timeout: float,
        user_agent: str,
        ca_bundle: str | None = None,
        proxies: Any = None,
    ) -> None:
        self.verify = verify
        self.timeout = timeout
        self.user_agent = user_agent
        self._ca_bundle = ca_bundle
        self._proxies = proxies  # url -> the environment's proxies for it ({} when none)
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def usable(self, url: str) -> bool:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            return False
        if self._proxies is not None:
            found = self._proxies(url)
            if found.get(scheme) or found.get("all"):
                return False
        return True

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
    ) -> Answer | None:
        """The answer, or :data:`AGAIN` when requests must ask (a redirect, an encoding)."""
        parts = urlsplit(url)
        path = parts.path or "/"
        query = parts.query
        if params:
            query = (query + "&" if query else "") + urlencode(params, doseq=True)
        if query:
            path += "?" + query
        sent = {
            "User-Agent": self.user_agent,
            "Accept-Encoding": "identity",
            "Accept": "*/*",
            **headers,
        }
        while True:
            conn = self._connection(parts.scheme, parts.netloc)
            reused = conn.sock is not None
            note_connection(conn)  # the header deadline shuts this socket down
            try:
                if not reused:
                    try:
                        conn.connect()
                    except TimeoutError:
                        raise requests.exceptions.ConnectTimeout(
                            f"connect to {parts.netloc} timed out"
                        ) from None
                conn.request(method, path, headers=sent)
                resp = conn.getresponse()
                break
            except requests.RequestException:
                self._drop(parts.scheme, parts.netloc)
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop(parts.scheme, parts.netloc)
                if reused and isinstance(exc, _CLOSED) and not deadline_fired():
                    continue  # a kept-alive connection the server closed as it was reused
                raise _dropped(exc) from None
        answer = Answer(resp, conn, url)
        encoding = (resp.getheader("Content-Encoding") or "identity").strip().lower()
        if 300 <= resp.status < 400 or encoding != "identity":
            answer.close()
            return AGAIN
        if method == "HEAD":
            resp.read()  # no body: the connection is free again
        return answer

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()

    # -- connections -----------------------------------------------------------------------

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] | None = getattr(
            self._local, "pool", None
        )
        if pool is None:
            pool = self._local.pool = {}
        conn = pool.get((scheme, netloc))
        if conn is not None and conn.sock is not None and _dropped_by_peer(conn.sock):
            conn.close()  # closed while idle: as urllib3 does, a new one rather than a failure
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(
                    netloc, timeout=self.timeout, context=self._tls()
                )
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            pool[(scheme, netloc)] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = getattr(self._local, "pool", {})
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            if not self.verify:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                bundle = self._ca_bundle or DEFAULT_CA_BUNDLE_PATH
                if os.path.isdir(bundle):
                    ctx = ssl.create_default_context(capath=bundle)
                else:
                    ctx = ssl.create_default_context(cafile=bundle)
            self._context = ctx
        return self._context


def _dropped_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive socket that is readable was closed (or spoke out of turn)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _dropped(exc: BaseException) -> requests.RequestException:
    """The requests exception the client handles for a transport failure."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return requests.exceptions.SSLError(text)
    if isinstance(exc, TimeoutError):
        return requests.exceptions.ReadTimeout(text)
    return requests.ConnectionError(text)
