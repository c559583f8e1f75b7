"""Fuzz target: the decoders' run trigger in C (``leakscan.engine._runs``, compiled code
reading every scanned byte): any bytes give the runs the Hyperscan pattern reports, and never
crash the process."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine import database
from tests.engine.test_runs import by_hyperscan, c_run_ends
from tests.fuzz.harness import budget

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(database.run_ends is None, reason="the C version is not built"),
]

_BASE64ISH = st.text("ABCxyz0189+/=", max_size=300).map(str.encode)


@budget(300)
@given(st.lists(st.one_of(st.binary(max_size=200), _BASE64ISH), max_size=8).map(b"".join))
def test_fuzz_runs_are_those_the_pattern_reports(data: bytes) -> None:
    assert c_run_ends(data) == by_hyperscan(data)
