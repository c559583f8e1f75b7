"""Fuzz target: gzip, zstd, xz and bzip2 framing, of an image layer
(:func:`leakscan.sources.image.layer.iter_layer`, by magic bytes) and of a compressed file or
tar in a scanned tree (:mod:`leakscan.sources.content`).

A layer either inflates or raises ImageError (a bomb: BombError); what it inflated before
the corrupt bytes is kept. A compressed file in a tree is scanned or skipped, never more."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from tests.fuzz.harness import bounded_memory, budget, scan_checked, secrets_of
from tests.fuzz.seeds import COMPRESS, FIRST_MEMBER, LAYER, SECRET, tar_bytes
from tests.fuzz.test_fuzz_tar import read_layer
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

_FORMATS = ("gzip", "zstd", "xz", "bzip2")
_FRAMES = {how: COMPRESS[how](LAYER) for how in _FORMATS}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    how = draw(st.sampled_from(_FORMATS))
    return draw(
        st.one_of(
            mutated(_FRAMES[how], min_ops=1),  # the frame itself damaged
            st.builds(COMPRESS[how], mutated(LAYER, zero_blocks=True)),  # a bad tar, framed
            st.builds(lambda a, b: a + b, st.just(_FRAMES[how]), st.binary(max_size=64)),
            st.builds(
                lambda a, b: a + b, st.just(_FRAMES[how]), st.sampled_from(list(_FRAMES.values()))
            ),  # concatenated streams: a second member or frame, maybe of another format
        )
    )


@budget(80)
@given(raw=frames())
def test_fuzz_compressed_layer(raw: bytes) -> None:
    with bounded_memory():
        read_layer(raw)


# a layer long enough that its first member is inflated and handed out before the stream
# reaches bytes damaged near its end (incompressible: each format's blocks stay small)
_LONG = tar_bytes([FIRST_MEMBER, ("blob.bin", os.urandom(400_000))])
_LONG_FRAMES = {how: COMPRESS[how](_LONG) for how in ("gzip", "zstd", "xz")}


@budget(30)
@given(how=st.sampled_from(sorted(_LONG_FRAMES)), data=st.data())
def test_fuzz_compressed_layer_keeps_members_before_the_bad_bytes(
    how: str, data: st.DataObject
) -> None:
    frame = _LONG_FRAMES[how]
    cut = len(frame) * 3 // 4
    raw = frame[:cut] + data.draw(mutated(frame[cut:], min_ops=1), label="tail")
    with bounded_memory():
        files, _ = read_layer(raw)
    name, content = FIRST_MEMBER
    assert files.get(name) == content


_INNER_TAR = tar_bytes([("conf/app.properties", f"token={SECRET}\n".encode())])
_NAMES = {
    "gzip": ["a.tar.gz", "a.tgz", "a.gz", "app.json.gz"],
    "xz": ["a.tar.xz", "a.txz", "a.xz"],
    "bzip2": ["a.tar.bz2", "a.tbz2", "a.bz2"],
    "zstd": ["a.tar.zst", "a.tzst", "a.zst"],
}


@budget(60)
@given(how=st.sampled_from(_FORMATS), data=st.data())
def test_fuzz_compressed_file_in_a_tree(how: str, data: st.DataObject, rules: Path) -> None:
    name = data.draw(st.sampled_from(_NAMES[how]), label="name")
    valid = COMPRESS[how](_INNER_TAR if ".t" in name else f"token={SECRET}\n".encode())
    raw = data.draw(
        st.one_of(
            mutated(valid, min_ops=1),
            st.builds(COMPRESS[how], mutated(_INNER_TAR, zero_blocks=True)),
            st.binary(max_size=512).map(lambda b, v=valid: v[:12] + b),  # a header, then noise
        ),
        label="raw",
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(raw)
        scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)


@pytest.mark.parametrize("how", _FORMATS)
def test_fuzz_compressed_file_in_a_tree_seeds_are_found(how: str, rules: Path) -> None:
    # the seeds above are valid: each format's file and tar are read (no silent no-op target)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / _NAMES[how][0]).write_bytes(COMPRESS[how](_INNER_TAR))
        (Path(tmp) / ("plain" + _NAMES[how][-1][1:])).write_bytes(
            COMPRESS[how](f"token={SECRET}\n".encode())
        )
        result = scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
    assert SECRET in secrets_of(result)
    assert len(result.findings[0].locations) == 2, result.findings[0].locations


def test_layer_seed_is_read_in_every_format() -> None:
    for how in ("none", *_FORMATS):
        files, error = read_layer(COMPRESS[how](LAYER))
        assert error is None and files[FIRST_MEMBER[0]] == FIRST_MEMBER[1], how
