"""Fuzz target: the changed lines of an edited git blob in C (``leakscan.sources.git._delta``,
compiled code reading bytes from any repository).

Any two byte strings (binary ones, NUL bytes, no newline at all, lines beyond the context
window) give the answer of the Python version (``delta`` without the module), and never crash
the process; a real history's edits are mutated from a realistic old text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.git import delta as delta_module
from leakscan.sources.git.delta import Base, delta
from tests.fuzz.harness import budget
from tests.sources.git.test_git_delta import in_python

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(delta_module._part is None, reason="the C version is not built"),
]

_PIECES = st.sampled_from(
    [
        *(b"\n", b"\r\n", b"\x00", b"a", b"key = value\n", b"-----BEGIN ", b"PuTTY-User-Key-File-"),
        *(b"x" * 257, b"y" * 769 + b"\n"),
    ]
)


@st.composite
def _edited(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    old = b"".join(draw(st.lists(st.one_of(_PIECES, st.binary(max_size=40)), max_size=30)))
    new = bytearray(old)
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(new)))
        cut = draw(st.integers(0, 50))
        new[at : at + cut] = draw(st.one_of(_PIECES, st.binary(max_size=20)))
    return old, bytes(new), draw(st.booleans())


@budget(300)
@given(st.one_of(_edited(), st.tuples(st.binary(), st.binary(), st.booleans())))
def test_fuzz_delta_answers_as_its_specification(case: tuple[bytes, bytes, bool]) -> None:
    old, new, marker = case
    assert delta(Base(old, marker), new) == in_python(Base(old, marker), new)
