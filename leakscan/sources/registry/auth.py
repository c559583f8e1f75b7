"""Registry credentials and the auth handshake (anonymous, Basic, Bearer tokens).

Credentials come from, in order: the caller (the CLI passes ``--username``/``--password-stdin``
or ``LEAKSCAN_REGISTRY_USERNAME``/``LEAKSCAN_REGISTRY_PASSWORD``), then ``~/.docker/config.json``
(``credHelpers``, ``auths``, ``credsStore``). A password or token never appears in a repr, a
log line or an error message.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3

from leakscan.sources.interface import SourceError
from leakscan.sources.registry.body import bounded_body
from leakscan.sources.registry.watchdog import headers_deadline

log = logging.getLogger(__name__)

__all__ = [
    "Credentials",
    "RegistryAuth",
    "RegistryAuthError",
    "docker_credentials",
    "parse_challenge",
]

_TOKEN_MAX_BYTES = 1024 * 1024
DOCKER_HUB = "registry-1.docker.io"


class RegistryAuthError(SourceError):
    """Credentials were refused or could not be obtained."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:  # never the password
        return f"Credentials(username={self.username!r}, password=***)"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…",scope="…"`` → ("bearer", {realm, service, scope})."""
    header = header.strip()
    scheme, _, rest = header.partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest)}
    for k, v in re.findall(r'(\w+)\s*=\s*([^",\s]+)', rest):
        params.setdefault(k.lower(), v)
    return scheme.lower(), params


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _host_keys(host: str) -> list[str]:
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if host in (DOCKER_HUB, "docker.io", "index.docker.io"):
        keys += ["https://index.docker.io/v1/", "index.docker.io", "docker.io"]
    return keys


def _from_helper(helper: str, host: str) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run(
            [program, "get"], input=host.encode(), capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("credential helper %s failed: %s", program, type(exc).__name__)
        return None
    if proc.returncode != 0:  # "credentials not found" and the like; the output is not logged
        log.debug("credential helper %s has no credentials for %s", program, host)
        return None
    try:
        doc = json.loads(proc.stdout)
        user, secret = str(doc["Username"]), str(doc["Secret"])
    except (ValueError, KeyError, TypeError, RecursionError):
        log.warning("credential helper %s gave an unreadable answer", program)
        return None
    if user == "<token>":  # an identity token: not a password we can use for Basic/Bearer
        return None
    return Credentials(user, secret)


def docker_credentials(host: str, config_path: Path | None = None) -> Credentials | None:
    """Credentials for a registry host from a docker config file, or None."""
    path = config_path or docker_config_path()
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    keys = _host_keys(host)
    helpers = doc.get("credHelpers") or {}
    for key in keys:
        if isinstance(helpers, dict) and key in helpers:
            return _from_helper(str(helpers[key]), host)
    auths = doc.get("auths") or {}
    for key in keys:
        entry = auths.get(key) if isinstance(auths, dict) else None
        if not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                log.warning("unreadable auth entry for %s in %s", host, path)
                continue
            return Credentials(user, password)
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]))
    if doc.get("credsStore"):
        return _from_helper(str(doc["credsStore"]), host)
    return None


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires: float


class RegistryAuth:
    """Answers a registry's ``WWW-Authenticate`` challenges and signs requests.

    One instance serves one registry host. Bearer tokens are kept per scope until they expire
    (or a 401 says they no longer work), as ``clock`` tells (seconds).
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        use_docker_config: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._explicit = credentials
        self._use_docker_config = use_docker_config
        self._resolved: dict[str, Credentials | None] = {}
        self._scheme: str | None = None  # "basic" or "bearer" once challenged
        self._bearer: dict[str, str] = {}
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        user = self._explicit.username if self._explicit else None
        return f"RegistryAuth(username={user!r}, scheme={self._scheme!r})"

    def credentials(self, host: str) -> Credentials | None:
        if host not in self._resolved:
            creds = self._explicit
            if creds is None and self._use_docker_config:
                creds = docker_credentials(host)
            self._resolved[host] = creds
        return self._resolved[host]

    def headers(self, host: str, scope: str) -> dict[str, str]:
        """The Authorization header to send for a request in this scope (maybe none)."""
        with self._lock:
            if self._scheme == "basic":
                creds = self.credentials(host)
                if creds is not None:
                    return {"Authorization": _basic(creds)}
            elif self._scheme == "bearer":
                token = self._tokens.get(scope)
                if token is not None and token.expires > self._clock():
                    return {"Authorization": f"Bearer {token.value}"}
        return {}

    def challenge(
        self,
        session: requests.Session,
        host: str,
        scope: str,
        header: str,
        verify: bool,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sent: str | None = None,
    ) -> bool:
        """Handle a 401's challenge; True when a retry may now succeed.

        ``sent`` is the Authorization header the refused request carried. Requests run in
        several threads: a 401 for a request sent before another thread's challenge got the
        scheme or a token is retried with what is held now, and only a refusal of what is
        held now means the credentials lack access."""
        scheme, params = parse_challenge(header)
        with self._lock:
            if scheme == "basic":
                self._scheme = "basic"
                creds = self.credentials(host)
                return creds is not None and sent != _basic(creds)
            if scheme != "bearer" or not params.get("realm"):
                raise RegistryAuthError(f"{host}: unsupported auth challenge {scheme!r}")
            self._scheme = "bearer"
            self._bearer = params
            held = self._tokens.get(scope)
            now = self._clock()
            if held is not None and held.expires > now:
                if sent != f"Bearer {held.value}":
                    return True  # another thread got this token after the request left
                if held.expires > now + 5:
                    # a fresh token was refused: the credentials lack access
                    del self._tokens[scope]
                    return False
            self._tokens[scope] = self._fetch_token(
                session, host, scope, params, verify, timeout, clock
            )
            return True

    def _fetch_token(
        self,
        session: requests.Session,
        host: str,
        scope: str,
        params: dict[str, str],
        verify: bool,
        timeout: float,
        clock: Callable[[], float],
    ) -> _Token:
        """A bearer token from the realm: the registry's timeout per read, its deadline for
        the whole answer (``2 * timeout``), at most ``_TOKEN_MAX_BYTES``."""
        query = {"service": params["service"]} if params.get("service") else {}
        wanted = scope or params.get("scope", "")
        if wanted:
            query["scope"] = wanted
        creds = self.credentials(host)
        auth = (creds.username, creds.password) if creds else None
        realm = params["realm"]
        deadline = clock() + 2 * timeout
        try:
            with headers_deadline(2 * timeout) as guard:
                resp = session.get(
                    realm, params=query, auth=auth, timeout=timeout, verify=verify, stream=True
                )
            if guard.fired:
                resp.close()
                raise TimeoutError("headers cut at the deadline")
            body = bounded_body(resp, _TOKEN_MAX_BYTES, deadline, clock)
        except TimeoutError:
            raise RegistryAuthError(
                f"{host}: token service gave no complete answer within {2 * timeout:.0f} s "
                "(LEAKSCAN_REGISTRY_TIMEOUT)"
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            if guard.fired:
                raise RegistryAuthError(
                    f"{host}: token service gave no complete answer within {2 * timeout:g} s "
                    "(LEAKSCAN_REGISTRY_TIMEOUT)"
                ) from None
            raise RegistryAuthError(
                f"{host}: token service unreachable ({type(exc).__name__})"
            ) from None
        if resp.status_code in (401, 403):
            raise RegistryAuthError(
                f"{host}: the token service refused the credentials (HTTP {resp.status_code})"
            )
        if resp.status_code != 200 or body is None:
            raise RegistryAuthError(f"{host}: token service answered HTTP {resp.status_code}")
        try:
            doc = json.loads(body)
            value = doc.get("token") or doc.get("access_token")
            lifetime = int(doc.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError, RecursionError, OverflowError):
            raise RegistryAuthError(f"{host}: token service sent no usable token") from None
        token = str(value) if value else ""
        # a header value: printable ASCII, no spaces (a JWT, an opaque string); anything else
        # (unicode, an object, a line break) made http.client raise UnicodeEncodeError
        if not token or not (token.isascii() and token.isprintable()) or " " in token:
            raise RegistryAuthError(f"{host}: token service sent no usable token")
        log.debug("got a bearer token for %s scope %s (expires in %ss)", host, wanted, lifetime)
        return _Token(token, self._clock() + max(lifetime - 10, 5))


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
