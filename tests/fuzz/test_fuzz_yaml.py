"""Fuzz target: YAML manifests (Kubernetes, Compose, Helm values, plain YAML:
:mod:`leakscan.sources.manifests.yamltree` behind the depth pre-check of
:mod:`leakscan.yamldepth`) and leakscan's own rule files (:func:`leakscan.rules.loader.
load_file`).

A manifest gives key-by-key blobs or a skip ("nested deeper than 200 levels", "aliases
expand to more than …", a syntax error) and is still scanned as text: a secret before the
bad bytes is found. Nesting far past the C stack (60 000 ``[``) is a skip, never a crash.
A rule file loads or is refused with a RuleError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.errors import LeakscanError
from leakscan.model import Skip
from leakscan.rules.loader import load_file
from tests.fuzz.harness import bounded_memory, budget, secrets_of
from tests.fuzz.manifests import parse, parse_unbounded, scan_file
from tests.fuzz.seeds import COMPOSE, K8S_SECRET, SECRET, SYNTAXISH, deep_nesting
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_NAMES = ["values.yaml", "docker-compose.yml", "deploy.yaml", "secret.yml", "kubeconfig"]
#: aliases nested three deep (729 nodes once expanded); a full bomb (past the 100 000-node
#: guard) costs a second under tracemalloc, so it has a plain test of its own below
_ALIASES = (
    b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
)
_YAML_BITS = st.sampled_from(
    [b"!!python/object:os.system", b"!!binary |\n  Z2hw", b"<<: *a", b"? [a]\n: b", b"%YAML 1.1",
     b"---", b"...", b"&a", b"*a", b"\t", b"\xef\xbb\xbf", b"\x00", b"{{ .Values.x }}",
     b"key: |-\n  ", b"- - - -", b"[", b"{", b"'", b'"\\x'],
)  # fmt: skip


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(50)
@given(
    name=st.sampled_from(_NAMES),
    kind=st.sampled_from([None, None, "k8s", "compose", "helm"]),
    data=st.one_of(
        st.binary(max_size=600),
        SYNTAXISH.map(str.encode),
        mutated(K8S_SECRET, min_ops=1),
        mutated(COMPOSE, min_ops=1),
        mutated(_ALIASES),
        deep_nesting(),
        deep_nesting("{a: ", "}"),
        deep_nesting("- ", ""),
        st.lists(st.one_of(_YAML_BITS, st.binary(max_size=20)), max_size=20).map(b"".join),
    ),
)
def test_fuzz_yaml_manifest(name: str, kind: str | None, data: bytes) -> None:
    parse(name, data, kind)


@budget(20)
@given(
    seed=st.sampled_from([K8S_SECRET, COMPOSE]),
    data=st.data(),
)
def test_fuzz_yaml_keeps_the_secret_before_the_bad_bytes(
    seed: bytes, data: st.DataObject, rules: Path
) -> None:
    end = seed.index(SECRET.encode()) + len(SECRET)
    tail = data.draw(
        st.one_of(mutated(seed[end:], min_ops=1), deep_nesting(), st.just(_ALIASES)),
        label="tail",
    )
    result = scan_file("deploy.yaml", seed[:end] + b"\n" + tail, rules)
    assert SECRET in secrets_of(result)


_VALID_RULES = (
    b"rules:\n  - id: x.y\n    name: X\n    pattern: '(ab[0-9]{4})'\n    keywords: [ab]\n"
    b"    examples:\n      - text: 'k = ab1234'\n        secret: ab1234\n"
    b"    negative_examples:\n      - 'ab12'\n"
)


@budget(60)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        SYNTAXISH.map(str.encode),
        mutated(_VALID_RULES, min_ops=1),
        deep_nesting(),
        st.just(_ALIASES),
    )
)
def test_fuzz_rule_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "rules.yaml"
        file.write_bytes(data)
        with bounded_memory():
            try:
                load_file(file)
            except LeakscanError as exc:
                assert str(exc).strip() and "\n" not in str(exc).strip(), repr(exc)


def test_yaml_alias_bomb_is_a_skip_and_the_file_is_scanned_as_text(rules: Path) -> None:
    bomb = b"".join(
        b"%c: &%c [%s]\n"
        % (ord("a") + i, ord("a") + i, b", ".join([b"*%c" % (ord("a") + i - 1)] * 9))
        for i in range(1, 7)
    )
    data = b"a: &a [x]\n" + bomb + f"token: {SECRET}\n".encode()
    items = parse_unbounded("values.yaml", data)
    assert any("aliases expand to more than" in s.reason for s in items if isinstance(s, Skip))
    assert SECRET in secrets_of(scan_file("values.yaml", data, rules))
