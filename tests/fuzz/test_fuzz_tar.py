"""Fuzz target: tar, as an image layer (leakscan's own streaming reader,
:func:`leakscan.sources.image.layer.iter_layer`) and as a nested archive in a scanned tree
(:mod:`leakscan.sources.content`, tarfile in stream mode).

A layer either yields its members or raises ImageError; the members read before the bad
bytes are kept. A nested tar yields its members and at worst a skip."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.errors import LeakscanError
from leakscan.sources.image.layer import iter_layer
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from tests.fuzz.harness import bounded_memory, budget, drain, scan_checked, secrets_of
from tests.fuzz.seeds import FIRST_END, FIRST_MEMBER, LAYER, SECRET, tar_bytes
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


def read_layer(raw: bytes) -> tuple[dict[str, bytes], LeakscanError | None]:
    """Every member's bytes read up to the first error, and that error (if any)."""
    files: dict[str, bytes] = {}
    try:
        for entry in iter_layer(io.BytesIO(raw), "fuzz-layer", max_ratio=200):
            content = getattr(entry, "content", None)
            if content is not None:
                files[entry.path] = drain(content)
    except LeakscanError as exc:
        assert "\n" not in str(exc).strip(), exc
        return files, exc
    return files, None


@budget(60)
@given(
    raw=st.one_of(
        st.binary(max_size=4096),
        mutated(LAYER, zero_blocks=True),
        mutated(LAYER, min_ops=1, max_insert=600),
    )
)
def test_fuzz_tar_layer(raw: bytes) -> None:
    with bounded_memory():
        read_layer(raw)


@budget(40)
@given(tail=mutated(LAYER[FIRST_END:], min_ops=1, zero_blocks=True, max_insert=600))
def test_fuzz_tar_layer_keeps_members_before_the_bad_bytes(tail: bytes) -> None:
    with bounded_memory():
        files, _ = read_layer(LAYER[:FIRST_END] + tail)
    name, content = FIRST_MEMBER
    assert files.get(name) == content


_NESTED = tar_bytes([("conf/app.properties", f"token={SECRET}\n".encode()), ("b.txt", b"x" * 700)])


@budget(30)
@given(
    name=st.sampled_from(["a.tar", "a.gem", "a.crate"]),
    data=st.one_of(st.binary(max_size=2048), mutated(_NESTED, zero_blocks=True)),
)
def test_fuzz_tar_nested(name: str, data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(data)
        scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)


@budget(30)
@given(tail=mutated(_NESTED[1024:], min_ops=1, zero_blocks=True))
def test_fuzz_tar_nested_keeps_members_before_the_bad_bytes(tail: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.tar").write_bytes(_NESTED[:1024] + tail)
        result = scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
    assert SECRET in secrets_of(result)
