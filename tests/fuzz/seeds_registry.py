"""A loopback registry serving a valid small image; the registry fuzz targets damage one
answer at a time. Nothing here may reach another host: name resolution is refused for every
address but loopback while it runs."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.fuzz.seeds_image import (
    INDEX_TYPE,
    MANIFEST_TYPE,
    config_doc,
    digest,
    dumps,
    index_doc,
    layer_blobs,
    manifest_doc,
)
from tests.hardening.fakeregistry import FakeRegistry

REPO = "team/app"
TOKEN = "fuzz-token-not-a-secret"
_REAL_GETADDRINFO = socket.getaddrinfo


def _loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name != "localhost":
        try:
            loopback = ipaddress.ip_address(name.strip("[]")).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise socket.gaierror(socket.EAI_NONAME, f"fuzz tests stay on loopback ({name!r})")
    return _REAL_GETADDRINFO(host, *args, **kwargs)


@contextmanager
def offline_registry() -> Iterator[FakeRegistry]:
    """A FakeRegistry, with every address but loopback refused and no real credentials."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
            mp.delenv(var, raising=False)
        for var in ("LEAKSCAN_REGISTRY_USERNAME", "LEAKSCAN_REGISTRY_PASSWORD"):
            mp.delenv(var, raising=False)
        mp.setenv("DOCKER_CONFIG", "/nonexistent-leakscan-fuzz")  # no real credentials
        with FakeRegistry() as reg:
            yield reg


def _serve(reg: FakeRegistry, path: str, data: bytes, content_type: str, auth: bool) -> None:
    answer = reg.body(data, content_type)
    if auth:
        challenge = reg.challenge("/token")

        def guarded(req: BaseHTTPRequestHandler) -> None:
            if req.headers.get("Authorization") == f"Bearer {TOKEN}":
                answer(req)
            else:
                challenge(req)

        reg.routes[path] = guarded
    else:
        reg.routes[path] = answer


class Image:
    """The documents of one image as served: ``top`` at the tag, ``children`` by digest."""

    def __init__(self) -> None:
        self.layers = layer_blobs()
        self.config = dumps(config_doc(1))
        self.manifest = dumps(manifest_doc(self.config, self.layers))
        self.top: bytes = dumps(index_doc(self.manifest))
        self.top_type = INDEX_TYPE
        self.token = dumps({"token": TOKEN, "expires_in": 300})

    def serve(self, reg: FakeRegistry, auth: bool = False) -> None:
        reg.routes.clear()
        _serve(reg, "/v2/", b"{}", "application/json", auth)
        _serve(reg, f"/v2/{REPO}/manifests/v1", self.top, self.top_type, auth)
        _serve(
            reg, f"/v2/{REPO}/manifests/{digest(self.manifest)}", self.manifest, MANIFEST_TYPE, auth
        )
        for blob in (self.config, *self.layers):
            _serve(reg, f"/v2/{REPO}/blobs/{digest(blob)}", blob, "application/octet-stream", auth)
        reg.routes["/token"] = reg.body(self.token, "application/json")
