"""Decoder shortcuts never drop what the full decode would keep."""

from __future__ import annotations

import base64
import binascii

import hyperscan
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakscan.engine import decoders
from leakscan.engine.database import DECODER_PATTERNS

B64 = st.binary(min_size=8, max_size=120).map(lambda b: base64.b64encode(b).rstrip(b"="))
TEXTISH = st.text(min_size=8, max_size=90).map(lambda t: base64.b64encode(t.encode()).rstrip(b"="))


def _full_decode_is_text(run: bytes) -> bool:
    try:
        decoded = base64.b64decode(run + b"=" * (-len(run) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return decoders.looks_textual(decoded)


@given(
    st.one_of(
        B64,
        TEXTISH,
        st.text(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            min_size=20,
            max_size=80,
        ).map(str.encode),
    )
)
def test_group_start_shortcut_keeps_every_textual_run(run: bytes) -> None:
    if _full_decode_is_text(run):
        assert decoders._may_be_text(run)


def test_paths_and_identifiers_are_settled_without_decoding() -> None:
    assert not decoders._may_be_text(b"usr/lib/python3/dist/packages")
    text = base64.b64encode(b'{"auths": {"registry": {"auth": "x"}}}').rstrip(b"=")
    assert decoders._may_be_text(text)
    data = b"path: usr/lib/python3/dist/packages\n"
    assert decoders.base64_run(data, data.index(b"\n")) is None
    data = b"value: " + text + b"\n"
    got = decoders.base64_run(data, data.index(b"\n"))
    assert got is not None and got[1].startswith(b'{"auths"')


# -- one trigger for base64 and hex runs: the same regions as two triggers gave -------------
_OLD_BASE64 = rb"[A-Za-z0-9+/]{20}[A-Za-z0-9+/]*={0,2}[^A-Za-z0-9+/=]"
_OLD_HEX = rb"[0-9a-fA-F]{32}[0-9a-fA-F]*[^0-9a-fA-F]"


def _database(*expressions: bytes) -> hyperscan.Database:
    db = hyperscan.Database()
    db.compile(
        expressions=list(expressions),
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[0] * len(expressions),
    )
    return db


_TWO_TRIGGERS = _database(_OLD_BASE64, _OLD_HEX)
_ONE_TRIGGER = _database(DECODER_PATTERNS["run"])


def _regions_with_two_triggers(data: bytes) -> tuple[list[object], list[object]]:
    """What the decoders got from a trigger for base64 runs and one for hex runs."""
    ends: tuple[list[int], list[int]] = ([], [])
    if data:
        _TWO_TRIGGERS.scan(data, match_event_handler=lambda i, s, e, f, c: ends[i].append(e))
        if data[-1] in decoders.B64_CHARS or data[-1] == 0x3D:  # a run that ends the data
            ends[0].append(len(data) + 1)
            ends[1].append(len(data) + 1)
    b64 = [got for e in ends[0] if (got := decoders.base64_run(data, e - 1))]
    hexes = [got for e in ends[1] if (got := decoders.hex_run(data, e - 1))]
    return b64, hexes


def _regions_with_one_trigger(data: bytes) -> tuple[list[object], list[object]]:
    stops: list[int] = []
    if data:
        _ONE_TRIGGER.scan(data, match_event_handler=lambda i, s, e, f, c: stops.append(e - 1))
    b64, hexes = decoders.encoded_runs(data, stops)
    return list(b64), list(hexes)


_PIECES = st.one_of(
    st.binary(min_size=1, max_size=45).map(base64.b64encode),  # padded base64
    st.text(min_size=1, max_size=40).map(lambda t: base64.b64encode(t.encode()).rstrip(b"=")),
    st.binary(min_size=10, max_size=30).map(lambda b: b.hex().encode()),
    st.text("abcdefABCDEF", min_size=28, max_size=45).map(str.encode),  # hex of letters only
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=15, max_size=45).map(
        str.encode
    ),  # identifiers
    st.sampled_from([b"=", b"==", b"===", b"\n", b",", b'"', b"g", b"/", b"+", b"-", b"\xff"]),
    st.binary(max_size=40),
)


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=12).map(b"".join))
def test_one_run_trigger_finds_the_regions_two_triggers_found(data: bytes) -> None:
    assert _regions_with_one_trigger(data) == _regions_with_two_triggers(data)


_HEX_TEXT = b"password=hunter2".hex().encode()  # 32 hex digits  # leakscan:allow (synthetic)
_B64_TEXT = base64.b64encode(b"password=hunter2x")  # one '='  # leakscan:allow (synthetic)
_B64_TWO = base64.b64encode(b"password=hunter2")  # two '='  # leakscan:allow (synthetic)


@pytest.mark.parametrize(
    "data",
    [
        b"x " + _HEX_TEXT + b" y",  # exactly 32 digits
        b"x " + _HEX_TEXT + b"g",  # ended by a base64 letter
        b"x " + _HEX_TEXT,  # ending the data
        b"x " + _HEX_TEXT + b"==",
        b"x " + _B64_TEXT + b"\n",
        b"x " + _B64_TEXT + b"=\n",
        b"x " + _B64_TWO + b"\n",
        b"x " + _B64_TWO + b"=\n",  # three '=': not a base64 run
        b"x " + _B64_TEXT + b"A\n",  # '=' inside: two runs
        b"x " + _B64_TEXT,  # ending the data
        b"x " + _B64_TEXT.rstrip(b"=") + b"\n",
        b"zz" + b"ab12" * 300_000 + b"g" + _HEX_TEXT * 2 + b"\n",  # a run over the look-back
        b"k: " + base64.b64encode(b"password=hunter2 " * 3),
    ],
)
def test_edges_of_runs(data: bytes) -> None:
    expected = _regions_with_two_triggers(data)
    assert expected != ([], []) or data.endswith((b"==\n", b"A\n"))
    assert _regions_with_one_trigger(data) == expected
