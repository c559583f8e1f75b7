"""Crashes the fuzz targets found, each kept as a fixed input (see docs/security.md)."""

from __future__ import annotations

import shutil
import tempfile
import zlib
from pathlib import Path

import pytest

from leakscan.sources.env import EnvFileSource
from leakscan.sources.git.source import GitSource
from leakscan.sources.image.source import image_sources
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from tests.conftest import require
from tests.fuzz.harness import scan_checked, secrets_of
from tests.fuzz.seeds import LAYER, SECRET, SECRET_ENV, tar_bytes, zip_bytes
from tests.fuzz.seeds_git import Built
from tests.fuzz.seeds_image import (
    config_doc,
    dumps,
    index_doc,
    layer_blobs,
    manifest_doc,
    set_key,
    write_layout,
)
from tests.fuzz.seeds_registry import REPO, Image, offline_registry
from tests.hardening.helpers import write_rules


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


def test_a_small_archive_does_not_reserve_the_archive_size_limit(rules: Path) -> None:
    # a 10 KB tar was read with one read(512 MiB): 512 MiB reserved up front, and under an
    # address-space limit (ulimit -v 500000) "unexpected MemoryError" instead of its findings
    data = tar_bytes([("conf/app.properties", f"token={SECRET}\n".encode())])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.tar").write_bytes(data)
        result = scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
    assert SECRET in secrets_of(result)


def test_a_small_env_file_does_not_reserve_the_env_file_limit(rules: Path) -> None:
    # `scan env FILE` read a two-line file with one read(64 MiB + 1)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.env").write_text(f"A=1\nGITHUB_TOKEN={SECRET}\n")
        result = scan_checked([EnvFileSource(f"{tmp}/x.env", SourceOptions())], rules)
    assert SECRET in secrets_of(result)


@pytest.mark.timeout(60)
def test_a_loose_object_shorter_than_its_header_fails_the_repository_without_a_hang(
    tmp_path: Path, rules: Path
) -> None:
    # git cat-file --batch prints such an object short ("blob 337" then 20 bytes); leakscan
    # waited for the rest while git waited for the next id: the scan hung forever
    require(shutil.which("git") is not None, "git is not installed")
    built = Built(tmp_path)
    oid = sorted(built.notes)[0]
    (built.loose / f".git/objects/{oid[:2]}/{oid[2:]}").chmod(0o644)
    (built.loose / f".git/objects/{oid[:2]}/{oid[2:]}").write_bytes(
        zlib.compress(b"blob 337\x00first line\nfirst li")
    )
    result = scan_checked([GitSource(str(built.loose), SourceOptions())], rules)
    assert SECRET in secrets_of(result)  # the blob read before the damaged one
    assert len(result.errors) == 1 and "git cat-file" in result.errors[0], result.errors


def test_an_encrypted_zip_member_is_a_skip_and_the_tree_goes_on(rules: Path) -> None:
    # zipfile.open raised RuntimeError ("password required"): the whole tree's scan ended
    # with "unexpected RuntimeError", every file after the zip unscanned (exit 2)
    raw = bytearray(zip_bytes([("in.txt", b"hello"), ("b.properties", b"x=1")]))
    raw[6] |= 1  # first local header: encrypted
    raw[raw.index(b"PK\x01\x02") + 8] |= 1  # and its central directory entry
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a.zip").write_bytes(bytes(raw))
        (Path(tmp) / "z.env").write_text(f"GITHUB_TOKEN={SECRET}\n")
        result = scan_checked([manifest_aware_source(tmp, SourceOptions())], rules)
    assert SECRET in secrets_of(result)
    assert [s.reason for s in result.skipped] == ["encrypted zip member; not read"]
    assert not result.errors, result.errors


@pytest.mark.parametrize(
    "answer",
    [
        b'{"token": "caf\\u00e9\\u0100", "expires_in": 300}',  # UnicodeEncodeError in http.client
        b'{"token": {"a": 1}, "expires_in": 300}',  # an object sent as a header
        b'{"token": "abc", "expires_in": 1e999}',  # OverflowError: int(inf)
    ],
)
def test_a_token_answer_unfit_for_a_header_is_one_clear_error(answer: bytes, rules: Path) -> None:
    with offline_registry() as reg:
        image = Image()
        image.token = answer
        image.serve(reg, auth=True)
        result = scan_checked(
            image_sources([f"{reg.host}/{REPO}:v1"], SourceOptions(registry_timeout=5)), rules
        )
    assert result.errors == [f"{reg.host}: token service sent no usable token"]


def test_a_registry_layer_does_not_reserve_the_spool_bound(rules: Path) -> None:
    # each layer of a registry image was read with one read(256 MiB + 1) (the spool bound)
    with offline_registry() as reg:
        Image().serve(reg, auth=True)
        result = scan_checked(
            image_sources([f"{reg.host}/{REPO}:v1"], SourceOptions(registry_timeout=5)), rules
        )
    assert {SECRET, SECRET_ENV} <= secrets_of(result)


_WRONG_TYPES = [
    (("config", "Labels"), [1]),  # AttributeError: 'list' object has no attribute 'items'
    (("config", "Env"), 5),  # TypeError: 'int' object is not iterable
    (("history",), 5),
    (("rootfs",), [1]),  # docker-archive, registry: 'list' object has no attribute 'get'
]


def _layout(config: bytes) -> tuple[bytes, list[bytes]]:
    layers = layer_blobs()
    manifest = dumps(manifest_doc(config, layers))
    return dumps(index_doc(manifest)), [manifest, config, *layers]


@pytest.mark.parametrize(("keys", "value"), _WRONG_TYPES)
def test_a_config_value_of_the_wrong_type_is_no_entry(
    keys: tuple[str, ...], value: object, rules: Path
) -> None:
    # an internal error lost the whole image (its layers' findings too), in every store
    config = dumps(set_key(config_doc(1), keys, value))
    with tempfile.TemporaryDirectory() as tmp:
        index, blobs = _layout(config)
        write_layout(Path(tmp) / "oci", index, blobs)
        archive = Path(tmp) / "image.tar"
        manifest = [{"Config": "c.json", "RepoTags": {"a": 1, "b": 2}, "Layers": ["l.tar"]}]
        archive.write_bytes(
            tar_bytes([("manifest.json", dumps(manifest)), ("c.json", config), ("l.tar", LAYER)])
        )
        refs = [f"oci:{tmp}/oci", f"docker-archive:{archive}"]
        result = scan_checked(image_sources(refs, SourceOptions()), rules)
    assert SECRET in secrets_of(result)


@pytest.mark.parametrize(
    ("which", "keys", "value"),
    [
        ("index", ("manifests", 0, "annotations"), 1),  # 'int' object has no attribute 'get'
        ("manifest", ("annotations",), [1]),  # 'list' object has no attribute 'items'
        ("config", ("rootfs",), [1]),  # 'list' object has no attribute 'get'
        ("manifest", ("layers",), 1),  # 'int' object is not iterable (an error line now)
    ],
)
def test_a_registry_document_value_of_the_wrong_type_is_no_entry(
    which: str, keys: tuple[object, ...], value: object, rules: Path
) -> None:
    image = Image()
    if which == "config":
        image.config = dumps(set_key(config_doc(1), keys, value))
    manifest = manifest_doc(image.config, image.layers)
    image.manifest = dumps(set_key(manifest, keys, value) if which == "manifest" else manifest)
    index = index_doc(image.manifest)
    image.top = dumps(set_key(index, keys, value) if which == "index" else index)
    with offline_registry() as reg:
        image.serve(reg)
        result = scan_checked(
            image_sources([f"{reg.host}/{REPO}:v1"], SourceOptions(registry_timeout=5)), rules
        )
    if keys == ("layers",):  # no layer list to read: the image fails with one line
        assert len(result.errors) == 1 and "malformed layer list" in result.errors[0]
    else:
        assert SECRET in secrets_of(result)
