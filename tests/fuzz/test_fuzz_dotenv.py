"""Fuzz target: ``.env`` files, as manifests in a tree and with ``leakscan scan env FILE``
(:func:`leakscan.sources.manifests.dotenv.parse_dotenv`, :class:`leakscan.sources.env.
EnvFileSource`).

The parser is lenient: any text gives assignments (lines that are not are ignored, an
unclosed quote takes one line); binary bytes are a skip. A secret on a line before the bad
bytes is found."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.env import EnvFileSource
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests.dotenv import MAX_QUOTED_LINES, parse_dotenv
from tests.fuzz.harness import bounded_memory, budget, scan_checked, secrets_of
from tests.fuzz.manifests import parse
from tests.fuzz.seeds import DOTENV, SECRET, SYNTAXISH
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_DOTENVISH = st.one_of(
    st.binary(max_size=600),
    SYNTAXISH.map(str.encode),
    mutated(DOTENV, min_ops=1),
    st.lists(
        st.sampled_from([b"A=", b"export ", b"'", b'"', b"\\", b"#", b"\n", b"\r", b"=", b" "]),
        max_size=60,
    ).map(b"".join),
    st.just(b'A="' + b"x\n" * (MAX_QUOTED_LINES * 3)),  # an unclosed quote far down
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(100)
@given(
    text=st.one_of(st.text(max_size=400), _DOTENVISH.map(lambda b: b.decode("utf-8", "replace")))
)
def test_fuzz_dotenv_parser(text: str) -> None:
    with bounded_memory():
        found = parse_dotenv(text)
    lines = max(1, len(text.splitlines()))
    for a in found:
        assert a.name and 1 <= a.line <= lines, a


@budget(60)
@given(
    name=st.sampled_from([".env", ".env.local", "prod.env", "app/.env.example"]), data=_DOTENVISH
)
def test_fuzz_dotenv_manifest(name: str, data: bytes) -> None:
    parse(name, data)


@budget(40)
@given(tail=st.one_of(mutated(DOTENV[DOTENV.index(b"\n") :], min_ops=1), _DOTENVISH))
def test_fuzz_env_file_keeps_the_secret_before_the_bad_bytes(tail: bytes, rules: Path) -> None:
    first = DOTENV[: DOTENV.index(b"\n")]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.env").write_bytes(first + b"\n" + tail)
        result = scan_checked([EnvFileSource(f"{tmp}/x.env", SourceOptions())], rules)
    binary = [s for s in result.skipped if "binary" in s.reason]
    assert SECRET in secrets_of(result) or binary, result.skipped
