"""The decoders' run trigger in C (``leakscan.engine._runs``) reports the runs of the Hyperscan
pattern that the decoders may get something from, and the detector finds the same with
either."""

from __future__ import annotations

import base64
from pathlib import Path

import hyperscan
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakscan.engine import database, decoders
from leakscan.engine.database import DECODER_PATTERNS
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules
from tests.helpers import github_token

pytestmark = pytest.mark.skipif(database.run_ends is None, reason="the C version is not built")

_PATTERN = hyperscan.Database()
_PATTERN.compile(expressions=[DECODER_PATTERNS["run"]], ids=[0], elements=1, flags=[0])


def by_hyperscan(data: bytes) -> list[int]:
    ends: list[int] = []
    if data:
        _PATTERN.scan(data, match_event_handler=lambda i, s, e, f, c: ends.append(e - 1))
    return ends


def c_run_ends(data: bytes) -> list[int]:
    assert database.run_ends is not None
    return database.run_ends(data, decoders.MAX_DECODED)


def same_as_the_pattern(data: bytes) -> None:
    """The C version reports some of the pattern's runs, and the decoders get from those
    what they get from all of the pattern's."""
    ends, all_ends = c_run_ends(data), by_hyperscan(data)
    assert set(ends) <= set(all_ends) and ends == sorted(ends)
    assert decoders.encoded_runs(data, ends) == decoders.encoded_runs(data, all_ends)


# runs of every length around the thresholds (19/20, 31/32) and the 64-byte blocks the C
# version classifies, letters only or not, bytes over 0x7f (signed compares), delimiters
_PIECES = st.one_of(
    st.text("abcXYZ", min_size=1, max_size=70).map(str.encode),
    st.text("abcXYZ019+/", min_size=1, max_size=140).map(str.encode),
    # what the decoders keep: base64 of text (of any letters: group starts vary), hex
    st.text(min_size=12, max_size=60).map(lambda t: base64.b64encode(t.encode())),
    st.binary(min_size=16, max_size=24).map(lambda b: b.hex().encode()),
    st.sampled_from([b" ", b"\n", b"=", b"-", b"_", b"\x00", b"\x80", b"\xff", b"\xc3\xa9"]),
    st.binary(max_size=30),
)


@settings(max_examples=600)
@given(st.lists(_PIECES, max_size=16).map(b"".join))
def test_the_runs_left_out_are_those_the_decoders_turn_down(data: bytes) -> None:
    same_as_the_pattern(data)


def test_most_runs_of_code_are_left_out() -> None:
    """Identifiers and paths with a digit, random-looking tokens: judged here, not in Python."""
    code = b"x = obj.method2NameWithALongerTail3 + usr/lib/python3/dist-packages/pip/x\n"
    text = base64.b64encode(b"user=admin password=hunter22")  # leakscan:allow (synthetic)
    hexes = b"h=" + b"0123456789abcdef" * 3 + b";h=" + b"user:admin;pw:hunter2".hex().encode()
    data = code * 50 + b"k = '" + text + b"'\n" + hexes + b";\n"
    assert len(by_hyperscan(data)) == 100 + 1 + 2
    assert len(c_run_ends(data)) == 2  # the base64 of text, the hex of text
    same_as_the_pattern(data)


def test_a_run_at_the_bound_of_text_is_decoded() -> None:
    """Text whose every tenth byte is not (the least ``looks_textual`` takes), those bytes
    first in three of its ten 3-byte groups: 30% of the run's groups start outside text."""
    decoded = b"\xe9ab\xe9cd\xe9ef" + b"ghi" * 7
    data = b"v = " + base64.b64encode(decoded) + b"\n"
    assert c_run_ends(data) == [len(data) - 1]
    assert decoders.encoded_runs(data, c_run_ends(data))[0] == [(4, decoded)]


@pytest.mark.parametrize(
    ("decoded", "kept"),
    [
        (b"password=hunter2", True),  # 32 digits  # leakscan:allow (synthetic)
        (b"\xf0\xf1\xf2\xf3" + b"the password is hunter2, keep it safe", True),  # 10% not text
        (b"\xf0\xf1\xf2\xf3\xf4" + b"the password is hunter2, keep it saf", False),  # over 10%
        (bytes(range(200, 240)), False),  # random-looking: high nibbles text has not
    ],
)
def test_a_hex_run_is_judged_as_hex_run_judges(decoded: bytes, kept: bool) -> None:
    for tail in (b"", b"0"):  # an odd number of digits is never decoded
        data = b"h = " + decoded.hex().encode() + tail + b";\n"
        same_as_the_pattern(data)
        hexes = decoders.encoded_runs(data, c_run_ends(data))[1]
        assert hexes == ([(4, decoded)] if kept and not tail else [])


@pytest.mark.parametrize("text_last", [True, False])
def test_a_long_run_is_judged_by_its_last_characters(
    monkeypatch: pytest.MonkeyPatch, text_last: bool
) -> None:
    """Past ``MAX_DECODED`` characters only the end of a run is decoded (and judged)."""
    monkeypatch.setattr(decoders, "MAX_DECODED", 64)
    text = base64.b64encode(b"the password is hunter22, " * 3)[:64]  # leakscan:allow (synthetic)
    noise = b"z9" * 40  # groups that cannot start text, no hex digits in a row
    run = noise + text if text_last else text + noise
    data = b"k = " + run + b"\n"
    assert database.run_ends is not None
    ends = database.run_ends(data, 64)
    assert ends == ([len(data) - 1] if text_last else [])
    assert decoders.encoded_runs(data, ends) == decoders.encoded_runs(data, by_hyperscan(data))


@pytest.mark.parametrize("length", [19, 20, 31, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("offset", [0, 1, 44, 63, 64])
@pytest.mark.parametrize("digit", [False, True])
def test_runs_at_the_edges_of_blocks(length: int, offset: int, digit: bool) -> None:
    run = (b"7" if digit else b"Q") + b"a" * (length - 1)
    for tail in (b" ", b""):  # a run that ends the data has no byte after it
        data = b"." * offset + run + tail
        assert c_run_ends(data) == by_hyperscan(data)  # runs that may decode to text
        reported = tail != b"" and (length >= 32 or (length >= 20 and digit))
        assert c_run_ends(data) == ([offset + length] if reported else [])


def test_the_detector_finds_the_same_with_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encoded secrets at every offset of a block, in a base64 run, a hex run, a data URL."""
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(tmp_path))
    token = github_token()
    lines = []
    for pad in range(70):
        wrapped = base64.b64encode(f"token: {token}\n".encode()).decode()
        lines.append("x" * pad + f' value="{wrapped}"')
        lines.append("y" * pad + f" {f'export GITHUB_TOKEN={token}'.encode().hex()} .")
    lines.append("data:text/plain;base64," + base64.b64encode(f"GH={token}".encode()).decode())
    text = ("\n".join(lines) + "\n").encode()
    rules = load_rules()
    with_c = Detector(rules)
    monkeypatch.setattr(database, "run_ends", None)
    by_hyperscan = Detector(rules)
    assert with_c.compiled.run_ends is not None and by_hyperscan.compiled.run_ends is None
    found = with_c.scan(text)
    assert found == by_hyperscan.scan(text)
    assert sum(m.secret == token for m in found) >= 140  # each line's encoded token
