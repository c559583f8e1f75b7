"""Decoder shortcuts never drop what the full decode would keep."""

from __future__ import annotations

import base64
import binascii

from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine import decoders

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
