"""A requests session that reads the environment once per host, not on every request.

With ``trust_env`` on, requests looks up the proxies (``HTTP(S)_PROXY``, ``ALL_PROXY``,
``NO_PROXY``), the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) and ``~/.netrc``
for every request: about a third of the time of a manifest ``HEAD`` on a loopback registry.
Here ``trust_env`` is off; the proxies of each ``scheme://host`` are read from the
environment the first time that host is asked (``NO_PROXY`` honoured as requests does, also
for a redirect to another host), and the CA bundle when the session is made. Credentials
never come from ``~/.netrc``: the registry's own auth supplies them.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.models import PreparedRequest
from requests.utils import get_environ_proxies

__all__ = ["RegistrySession"]


class RegistrySession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._env_proxies: dict[str, dict[str, str]] = {}

    def environ_proxies(self, url: str) -> dict[str, str]:
        """The environment's proxies for ``url``'s scheme and host ({} under NO_PROXY)."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        found = self._env_proxies.get(key)
        if found is None:
            found = self._env_proxies[key] = dict(get_environ_proxies(url))
        return found

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies is not None and isinstance(url, str):
            for k, v in self.environ_proxies(url).items():
                proxies.setdefault(k, v)
        if (verify is True or verify is None) and self.ca_bundle:
            verify = self.ca_bundle
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def rebuild_proxies(self, prepared_request: PreparedRequest, proxies: Any) -> Any:
        """On a redirect: the new host's proxy from the environment, as requests does."""
        new = dict(proxies or {})
        url = prepared_request.url or ""
        scheme = urlsplit(url).scheme
        env = self.environ_proxies(url)
        proxy = env.get(scheme, env.get("all"))
        if proxy:
            new.setdefault(scheme, proxy)
        return super().rebuild_proxies(prepared_request, new)  # type: ignore[no-untyped-call]
