"""Fuzz target: the other manifests read key by key: TOML (tomllib), INI/properties
(configparser), Dockerfiles (:mod:`leakscan.sources.manifests.dockerfile`).

Any bytes give key-by-key blobs or a skip; the file is still scanned as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import budget, secrets_of
from tests.fuzz.manifests import parse, scan_file
from tests.fuzz.seeds import SECRET, SYNTAXISH, deep_nesting
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_SEEDS = {
    "settings.toml": (
        f'token = "{SECRET}"\n[db]\npassword = "hunter2-x"\n[[a.b]]\nc = [1, {{d = 2}}]\n'
    ).encode(),
    "app.ini": f"[github]\ntoken = {SECRET}\n[db]\npassword=hunter2-x\n%(x)s = y\n".encode(),
    "app.properties": f"github.token={SECRET}\ndb.password : hunter2-x\n".encode(),
    "Dockerfile": (
        f"FROM alpine\nENV GITHUB_TOKEN={SECRET}\nARG A=b \\\n  C=d\n"
        'RUN curl -u user:pw https://x\nENV ["X", "Y"]\n'
    ).encode(),
}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(100)
@given(data=st.data(), name=st.sampled_from(sorted(_SEEDS)))
def test_fuzz_config_file(data: st.DataObject, name: str) -> None:
    raw = data.draw(
        st.one_of(
            st.binary(max_size=600),
            SYNTAXISH.map(str.encode),
            mutated(_SEEDS[name], min_ops=1),
            deep_nesting("a = [", "]"),
            deep_nesting("a = {b=", "}"),
        ),
        label="raw",
    )
    parse(name, raw)


@budget(30)
@given(data=st.data(), name=st.sampled_from(sorted(_SEEDS)))
def test_fuzz_config_file_keeps_the_secret_before_the_bad_bytes(
    data: st.DataObject, name: str, rules: Path
) -> None:
    seed = _SEEDS[name]
    end = seed.index(SECRET.encode()) + len(SECRET)
    tail = data.draw(mutated(seed[end:], min_ops=1), label="tail")
    assert SECRET in secrets_of(scan_file(name, seed[:end] + tail, rules))


_ANY_NAMES = [
    "values.yaml", "docker-compose.yml", "Dockerfile", ".env", "config.json", "settings.toml",
    "app.ini", "secret.yml", "app.properties", "kubeconfig", "id_rsa.pem", "noext",
]  # fmt: skip


@budget(40)
@given(name=st.sampled_from(_ANY_NAMES), data=st.binary(max_size=600))
def test_fuzz_manifest_tree_file(name: str, data: bytes, rules: Path) -> None:
    scan_file(name, data, rules)  # as `scan PATH` reads it: sniffing, text, then key by key
