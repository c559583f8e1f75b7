"""Fuzz target: registry responses, served on loopback by
:class:`tests.hardening.fakeregistry.FakeRegistry`: manifests and indexes
(:func:`leakscan.sources.image.registry.image_manifests`), image configurations, token
answers and ``WWW-Authenticate`` challenges (:mod:`leakscan.sources.registry.auth`), tag
lists and their ``Link`` pages (:meth:`RegistryClient.tags`).

Any answer is read, or fails that image (or listing) with one RegistryError/ImageError line.
No request leaves loopback: every address but 127.0.0.0/8 and ::1 is refused here, even one
a damaged answer names (a token realm, a ``Link`` page)."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.errors import LeakscanError
from leakscan.sources.image.source import image_sources
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.auth import RegistryAuth, parse_challenge
from leakscan.sources.registry.client import RegistryClient, _next_link
from tests.fuzz.harness import bounded_memory, budget, own_errors_only, scan_checked, secrets_of
from tests.fuzz.seeds import JSON_VALUES, SECRET, SECRET_ENV, deep_nesting, poke
from tests.fuzz.seeds_image import (
    INDEX_TYPE,
    KEY_PATHS,
    MANIFEST_TYPE,
    WRONG_TYPES,
    config_doc,
    dumps,
    index_doc,
    manifest_doc,
    set_key,
)
from tests.fuzz.seeds_registry import REPO, TOKEN, Image, offline_registry
from tests.hardening.fakeregistry import FakeRegistry
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(600)

_OPTIONS = SourceOptions(registry_timeout=5)


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeRegistry]:
    with offline_registry() as reg:
        yield reg


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


_DOC = st.one_of(
    st.tuples(st.lists(st.integers(0, 20), max_size=5), JSON_VALUES).map(lambda t: ("poke", t)),
    st.tuples(st.integers(0, 99), JSON_VALUES).map(lambda t: ("key", t)),
    st.tuples(st.integers(0, 99), st.sampled_from(WRONG_TYPES)).map(lambda t: ("key", t)),
    st.tuples(st.integers(0, 99), st.sampled_from(WRONG_TYPES)).map(lambda t: ("key", t)),
    st.binary(max_size=300).map(lambda b: ("raw", b)),
    deep_nesting('{"a":', "}").map(lambda b: ("raw", b)),
)
_CONTENT_TYPES = st.sampled_from(
    [MANIFEST_TYPE, INDEX_TYPE, "application/vnd.docker.distribution.manifest.v2+json",
     "application/vnd.docker.distribution.manifest.list.v2+json", "application/json", "",
     "text/html; charset=x"],
)  # fmt: skip


def _damaged(valid: dict[str, Any], doc: tuple[str, Any], kind: str = "") -> bytes:
    how, value = doc
    if how == "raw":
        return bytes(value)
    if how == "key":
        paths = KEY_PATHS.get(kind) or [("token",), ("expires_in",), ("tags",), ("name",)]
        return dumps(set_key(valid, paths[value[0] % len(paths)], value[1]))
    path, replacement = value
    return dumps(poke(valid, path, replacement))


def _scan(reg: FakeRegistry, rules: Path) -> set[str]:
    return secrets_of(scan_checked(image_sources([f"{reg.host}/{REPO}:v1"], _OPTIONS), rules))


@budget(30, deadline=30.0)
@given(
    which=st.sampled_from(["top", "child", "config"]),
    doc=_DOC,
    content_type=_CONTENT_TYPES,
)
def test_fuzz_registry_documents(
    registry: FakeRegistry, rules: Path, which: str, doc: tuple[str, Any], content_type: str
) -> None:
    image = Image()
    if which == "config":
        image.config = _damaged(config_doc(1), doc, "config")
        image.manifest = dumps(manifest_doc(image.config, image.layers))
        image.top = dumps(index_doc(image.manifest))
    elif which == "child":
        image.manifest = _damaged(manifest_doc(image.config, image.layers), doc, "manifest")
        image.top = dumps(index_doc(image.manifest))
    else:
        image.top = _damaged(index_doc(image.manifest), doc, "index")
        image.top_type = content_type
    image.serve(registry)
    _scan(registry, rules)


@budget(20, deadline=30.0)
@given(
    token=st.one_of(
        _DOC.map(lambda d: _damaged({"token": TOKEN, "expires_in": 300}, d)), st.just(b"")
    )
)
def test_fuzz_registry_token_answer(registry: FakeRegistry, rules: Path, token: bytes) -> None:
    image = Image()
    image.token = token
    image.serve(registry, auth=True)
    _scan(registry, rules)


_HEADER_TEXT = st.text(
    alphabet=st.sampled_from(list('Bearer Basic realm="scope,service= \\\'<>;relnext:/ab\t=,"')),
    max_size=120,
)


@st.composite
def challenges(draw: st.DrawFn, host: str) -> str:
    realm = f"http://{host}/token"
    valid = f'Bearer realm="{realm}",service="fake",scope="repository:{REPO}:pull"'
    raw = draw(
        st.one_of(
            mutated(valid.encode(), min_ops=1),
            _HEADER_TEXT.map(str.encode),
            _HEADER_TEXT.map(lambda t: (valid + t).encode()),
        )
    )
    # a header's bytes: printable ASCII only (http.server refuses others; CR/LF would end it)
    return "".join(chr(b) for b in raw if 32 <= b < 127 or b == 9)


@budget(20, deadline=30.0)
@given(data=st.data())
def test_fuzz_registry_challenge(registry: FakeRegistry, rules: Path, data: st.DataObject) -> None:
    header = data.draw(challenges(registry.host), label="header")
    image = Image()
    image.serve(registry, auth=True)
    ok = registry.routes[f"/v2/{REPO}/manifests/v1"]

    def answer(req: BaseHTTPRequestHandler) -> None:
        if req.headers.get("Authorization") == f"Bearer {TOKEN}":
            ok(req)
            return
        req.send_response(401)
        req.send_header("WWW-Authenticate", header)
        req.send_header("Content-Length", "0")
        req.end_headers()

    registry.routes[f"/v2/{REPO}/manifests/v1"] = answer
    _scan(registry, rules)


@budget(20, deadline=30.0)
@given(
    body=_DOC.map(lambda d: _damaged({"name": REPO, "tags": ["v1", "v2"]}, d)),
    link=st.one_of(st.none(), _HEADER_TEXT, st.just(f'</v2/{REPO}/tags/list?last=v2>; rel="next"')),
)
def test_fuzz_registry_tag_list(registry: FakeRegistry, body: bytes, link: str | None) -> None:
    registry.routes.clear()
    plain = registry.body(body, "application/json")

    def answer(req: BaseHTTPRequestHandler) -> None:
        if link is None:
            plain(req)
            return
        req.send_response(200)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Link", link)
        req.end_headers()
        req.wfile.write(body)

    registry.routes[f"/v2/{REPO}/tags/list"] = answer
    client = RegistryClient(
        registry.host,
        RegistryAuth(use_docker_config=False),
        insecure=True,
        timeout=5,
    )
    try:
        with bounded_memory():
            tags = own_errors_only(lambda: list(client.tags(REPO, page_size=2)))
    finally:
        client.close()
    assert isinstance(tags, LeakscanError) or all(isinstance(t, str) for t in tags)


def test_registry_seed_is_read_whole(registry: FakeRegistry, rules: Path) -> None:
    Image().serve(registry, auth=True)  # through the token flow too
    assert {SECRET, SECRET_ENV} <= _scan(registry, rules)


# -- header parsers on their own (many examples: no network) ---------------------------------


@budget(200, deadline=5.0)
@given(header=st.one_of(st.text(max_size=200), _HEADER_TEXT))
def test_fuzz_www_authenticate(header: str) -> None:
    scheme, params = parse_challenge(header)
    assert isinstance(scheme, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@budget(200, deadline=5.0)
@given(header=st.one_of(st.text(max_size=200), _HEADER_TEXT))
def test_fuzz_link_header(header: str) -> None:
    link = _next_link(header)
    assert link is None or isinstance(link, str)
