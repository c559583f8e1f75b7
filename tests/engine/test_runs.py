"""The decoders' run trigger in C (``leakscan.engine._runs``) reports the runs the Hyperscan
pattern reports, and the detector finds the same with either."""

from __future__ import annotations

import base64
from pathlib import Path

import hyperscan
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakscan.engine import database
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
    return database.run_ends(data)


# runs of every length around the thresholds (19/20, 31/32) and the 64-byte blocks the C
# version classifies, letters only or not, bytes over 0x7f (signed compares), delimiters
_PIECES = st.one_of(
    st.text("abcXYZ", min_size=1, max_size=70).map(str.encode),
    st.text("abcXYZ019+/", min_size=1, max_size=140).map(str.encode),
    st.sampled_from([b" ", b"\n", b"=", b"-", b"_", b"\x00", b"\x80", b"\xff", b"\xc3\xa9"]),
    st.binary(max_size=30),
)


@settings(max_examples=600)
@given(st.lists(_PIECES, max_size=16).map(b"".join))
def test_the_runs_are_those_the_pattern_reports(data: bytes) -> None:
    assert c_run_ends(data) == by_hyperscan(data)


@pytest.mark.parametrize("length", [19, 20, 31, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("offset", [0, 1, 44, 63, 64])
@pytest.mark.parametrize("digit", [False, True])
def test_runs_at_the_edges_of_blocks(length: int, offset: int, digit: bool) -> None:
    run = (b"7" if digit else b"Q") + b"a" * (length - 1)
    for tail in (b" ", b""):  # a run that ends the data has no byte after it
        data = b"." * offset + run + tail
        assert c_run_ends(data) == by_hyperscan(data)
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
