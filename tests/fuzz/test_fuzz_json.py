"""Fuzz target: JSON manifests in a tree (``*.json``: :func:`leakscan.sources.manifests.
config.json_pairs`, through :func:`structured_blobs`). Image JSON (manifests, indexes,
configs) has its own targets in test_fuzz_image.py and test_fuzz_registry.py.

Any bytes give key-by-key blobs or a skip; the file is still scanned as text, so a secret
before the bad bytes is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import budget, secrets_of
from tests.fuzz.manifests import parse, scan_file
from tests.fuzz.seeds import JSON_CONFIG, JSON_VALUES, SECRET, SYNTAXISH, deep_nesting
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_NAMES = ["config.json", "package.json", "appsettings.json", ".docker/config.json", "x.JSON"]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(60)
@given(
    name=st.sampled_from(_NAMES),
    data=st.one_of(
        st.binary(max_size=600),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "replace")),
        mutated(JSON_CONFIG, min_ops=1),
        SYNTAXISH.map(str.encode),
        deep_nesting(),
        deep_nesting('{"a":', "}"),
        st.sampled_from([b'"\\ud800"', b'{"\\udfff": 1}', b"1e999999", b"-" + b"9" * 5000]),
    ),
)
def test_fuzz_json_manifest(name: str, data: bytes) -> None:
    parse(name, data)


@budget(30)
@given(tail=mutated(JSON_CONFIG[JSON_CONFIG.index(SECRET.encode()) + len(SECRET) :], min_ops=1))
def test_fuzz_json_keeps_the_secret_before_the_bad_bytes(tail: bytes, rules: Path) -> None:
    head = JSON_CONFIG[: JSON_CONFIG.index(SECRET.encode()) + len(SECRET)]
    result = scan_file("config.json", head + tail, rules)
    assert SECRET in secrets_of(result)
