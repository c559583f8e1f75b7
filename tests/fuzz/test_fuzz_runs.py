"""Fuzz target: the decoders' run trigger in C (``leakscan.engine._runs``, compiled code
reading every scanned byte): any bytes give the decoders what the Hyperscan pattern's runs
give them, and never crash the process."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine import database
from tests.engine.test_runs import same_as_the_pattern
from tests.fuzz.harness import budget

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(database.run_ends is None, reason="the C version is not built"),
]

_BASE64ISH = st.text("ABCxyz0189+/=", max_size=300).map(str.encode)


@budget(300)
@given(st.lists(st.one_of(st.binary(max_size=200), _BASE64ISH), max_size=8).map(b"".join))
def test_fuzz_runs_left_out_are_those_the_decoders_turn_down(data: bytes) -> None:
    same_as_the_pattern(data)
