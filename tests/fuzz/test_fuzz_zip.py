"""Fuzz target: zip (zip, jar, whl, apk, ...) in a scanned tree or layer,
:func:`leakscan.sources.content.archive_blobs` (zipfile, members read as streams).

A damaged zip gives its readable members and a skip for each bad one, or one skip for the
archive when its central directory cannot be read. Bytes damaged inside one member's data
spoil that member only: the members before it are still found."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from tests.fuzz.harness import budget, scan_checked, secrets_of
from tests.fuzz.seeds import SECRET, tar_bytes, zip_bytes
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_FIRST = ("conf/app.properties", f"token={SECRET}\n".encode())
_DEFLATED = zip_bytes([_FIRST, ("lib/x.txt", b"hello world\n" * 200), ("META-INF/", b"")])
_STORED = zip_bytes([_FIRST, ("lib/x.txt", bytes(range(256)) * 8)], zipfile.ZIP_STORED)
_NESTED = zip_bytes(
    [("inner.jar", _DEFLATED), ("t.tar", tar_bytes([_FIRST])), ("b.txt", b"b")],
    zipfile.ZIP_STORED,
)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(80)
@given(
    name=st.sampled_from(["a.zip", "a.jar", "a.whl", "a.apk", "a.war", "noext"]),
    raw=st.one_of(
        st.binary(max_size=1024),
        mutated(_DEFLATED, min_ops=1),
        mutated(_STORED, min_ops=1),
        mutated(_NESTED, min_ops=1),
        st.binary(max_size=256).map(lambda b: b"PK\x03\x04" + b),
    ),
)
def test_fuzz_zip(name: str, raw: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(raw)
        scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)


def _data_span(archive: bytes, member: str) -> tuple[int, int]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        info = zf.getinfo(member)
    header = archive[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    return start, start + info.compress_size


@budget(30)
@given(data=st.data(), archive=st.sampled_from([_DEFLATED, _STORED]))
def test_fuzz_zip_keeps_members_before_the_bad_bytes(
    data: st.DataObject, archive: bytes, rules: Path
) -> None:
    start, end = _data_span(archive, "lib/x.txt")
    raw = bytearray(archive)
    for at in data.draw(st.lists(st.integers(start, end - 1), min_size=1, max_size=6)):
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.jar").write_bytes(bytes(raw))
        result = scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
    assert SECRET in secrets_of(result)
