"""Fuzz target: the engine on arbitrary bytes: the decoders (base64, hex, percent- and
``\\u``-escapes, UTF-16/32 transcoding: :mod:`leakscan.engine.decoders`) and the detector
with the built-in rules (:meth:`Detector.scan`, :meth:`Detector.scan_stream`).

Any bytes give matches (each on a line >= 1) or none; nothing raises."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine import decoders
from tests.fuzz.harness import bounded_memory, budget

pytestmark = pytest.mark.timeout(300)

_ENCODED = st.sampled_from(
    [
        b"dG9rZW49Z2hwX",
        b"%67%68%70%5f",
        b"\\u0067\\u0068\\u0070_",
        b"67687",
        b"\xff\xfe",
        b"\xfe\xff",
        b"\x00",
        b"\\ud800",
        b"==",
        b"ghp_",
        b"AKIA",
    ]
).flatmap(
    lambda p: st.lists(st.one_of(st.just(p), st.binary(max_size=40)), max_size=12).map(b"".join)
)


@budget(100)
@given(data=st.one_of(st.binary(max_size=4096), _ENCODED))
def test_fuzz_decoders(data: bytes) -> None:
    with bounded_memory():
        out = decoders.transcode(data)
        assert isinstance(out, bytes)
        for end in range(0, len(data), max(1, len(data) // 8)):
            decoders.base64_run(data, end)
            decoders.hex_run(data, end)
        list(decoders.percent_lines(data))
        list(decoders.unicode_lines(data))


@pytest.fixture(scope="module")
def builtin_detector() -> Any:
    from leakscan.api import ScanConfig, load_detector

    return load_detector(ScanConfig())  # compiled once (slow), outside the deadline


@budget(60)
@given(data=st.one_of(st.binary(max_size=4096), _ENCODED), context=st.none() | st.text(max_size=20))
def test_fuzz_detector_builtin_rules(
    data: bytes, context: str | None, builtin_detector: Any
) -> None:
    with bounded_memory():
        for match in builtin_detector.scan(data, context):
            assert match.line >= 1
        builtin_detector.scan_stream(io.BytesIO(data), context)
