"""Fuzz target: git objects. leakscan reads a repository through git itself (``git log``,
``git cat-file --batch``) and parses commit and tag objects
(:func:`leakscan.sources.git.objects.parse_object`); the targets damage a real repository
built here (loose objects, a pack and its index, refs) and scan it with
:class:`leakscan.sources.git.source.GitSource`.

A damaged repository is scanned, or fails with one SourceError line (exit 2); a damaged
blob of a later commit leaves the secrets of the blobs read before it reported."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.git.objects import ObjectInfo, parse_object
from leakscan.sources.git.source import GitSource
from leakscan.sources.interface import SourceOptions
from tests.conftest import require
from tests.fuzz.harness import bounded_memory, budget, scan_checked, secrets_of
from tests.fuzz.seeds import SECRET
from tests.fuzz.seeds_git import Built
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    require(shutil.which("git") is not None, "git is not installed")
    return Built(tmp_path_factory.mktemp("fuzz-git"))


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


@budget(150, deadline=5.0)
@given(data=st.data())
def test_fuzz_git_commit_and_tag_objects(built: Built, data: st.DataObject) -> None:
    raw = data.draw(
        st.one_of(
            st.binary(max_size=600),
            mutated(built.commit, min_ops=1),
            mutated(built.tag, min_ops=1),
            st.sampled_from([b"author x -99999999999999999999 +9999\n\nm", b"tagger  0 -0000"]),
        ),
        label="raw",
    )
    with bounded_memory():
        info = parse_object(raw)
    assert isinstance(info, ObjectInfo) and isinstance(info.message, bytes)
    assert isinstance(info.time, int) and (info.date is None or isinstance(info.date, str))


def _damage(data: st.DataObject, original: bytes) -> bytes:
    """The file's bytes damaged, or (a loose object) its inflated bytes damaged and deflated
    again, so that git reads a well-formed stream holding a broken object."""
    try:
        inflated = zlib.decompress(original)
    except zlib.error:
        inflated = None
    if inflated is not None and data.draw(st.booleans(), label="reframe"):
        return zlib.compress(data.draw(mutated(inflated, min_ops=1), label="object"))
    return data.draw(mutated(original, min_ops=1), label="bytes")


def _scan_copy(source: Path, rel: str, data: st.DataObject, rules: Path) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(source, copy)
        target = copy / rel
        target.chmod(0o644)
        target.write_bytes(_damage(data, target.read_bytes()))
        result = scan_checked([GitSource(str(copy), SourceOptions())], rules)
        return secrets_of(result)


@budget(20, deadline=20.0)
@given(data=st.data(), which=st.sampled_from(["loose", "packed"]))
def test_fuzz_git_damaged_repository(
    built: Built, data: st.DataObject, which: str, rules: Path
) -> None:
    source = built.loose if which == "loose" else built.packed
    rel = data.draw(st.sampled_from(built.objects(source)), label="file")
    _scan_copy(source, rel, data, rules)


@budget(10, deadline=20.0)
@given(data=st.data())
def test_fuzz_git_damaged_later_blob_keeps_earlier_findings(
    built: Built, data: st.DataObject, rules: Path
) -> None:
    oid = data.draw(st.sampled_from(sorted(built.notes)), label="blob")
    rel = f".git/objects/{oid[:2]}/{oid[2:]}"
    assert SECRET in _scan_copy(built.loose, rel, data, rules)


def test_built_repository_is_scanned_whole(built: Built, rules: Path) -> None:
    # the seeds are valid: both copies give the secret (the targets start from a real scan)
    for source in (built.loose, built.packed):
        result = scan_checked([GitSource(str(source), SourceOptions())], rules)
        assert SECRET in secrets_of(result) and not result.errors, result.errors
    assert subprocess.run(["git", "-C", str(built.packed), "count-objects"], check=True)
