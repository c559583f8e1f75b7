"""Fuzz target: image documents and archives. OCI layouts (index, manifest, config:
:mod:`leakscan.sources.image.oci`, :func:`leakscan.sources.image.blobs.load_json`,
:func:`leakscan.sources.image.config.parse_config`), ``docker save`` archives
(:mod:`leakscan.sources.image.docker_archive`) and a whole image with one bad layer.

Any damaged document fails the image with one line (exit 2) or is read; a layer of any
bytes fails alone: the other layer's secret and the configuration's ``Env`` are reported."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leakscan.sources.image.source import image_sources
from leakscan.sources.interface import SourceOptions
from tests.fuzz.harness import budget, scan_checked, secrets_of
from tests.fuzz.seeds import (
    COMPRESS,
    JSON_VALUES,
    LAYER,
    SECRET,
    SECRET_ENV,
    deep_nesting,
    poke,
    tar_bytes,
)
from tests.fuzz.seeds_image import (
    KEY_PATHS,
    WRONG_TYPES,
    config_doc,
    digest,
    dumps,
    index_doc,
    layer_blobs,
    manifest_doc,
    set_key,
    write_layout,
)
from tests.hardening.helpers import write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


def _scan_layout(index: bytes, blobs: list[bytes], rules: Path) -> set[str]:
    with tempfile.TemporaryDirectory() as tmp:
        write_layout(Path(tmp) / "oci", index, blobs)
        result = scan_checked(image_sources([f"oci:{tmp}/oci"], SourceOptions()), rules)
    return secrets_of(result)


_DOC = st.one_of(
    JSON_VALUES.map(lambda v: ("value", v)),
    st.tuples(st.integers(0, 99), JSON_VALUES).map(lambda t: ("key", t)),
    st.tuples(st.integers(0, 99), st.sampled_from(WRONG_TYPES)).map(lambda t: ("key", t)),
    st.tuples(st.integers(0, 99), st.sampled_from(WRONG_TYPES)).map(lambda t: ("key", t)),
    st.binary(max_size=300).map(lambda b: ("raw", b)),
    deep_nesting().map(lambda b: ("raw", b)),
)


@budget(60)
@given(
    which=st.sampled_from(["index", "manifest", "config"]),
    path=st.lists(st.integers(0, 20), max_size=5),
    doc=_DOC,
)
def test_fuzz_oci_documents(which: str, path: list[int], doc: tuple[str, Any], rules: Path) -> None:
    """One document replaced (a node of it, or all of it by raw bytes); the digests of the
    documents above it follow, so that the damaged one is reached."""
    layers = layer_blobs()
    how, value = doc

    def damage(kind: str, valid: Any) -> bytes:
        if which != kind:
            return dumps(valid)
        if how == "raw":
            return bytes(value)
        if how == "key":
            paths = KEY_PATHS[kind]
            return dumps(set_key(valid, paths[value[0] % len(paths)], value[1]))
        return dumps(poke(valid, path, value))

    config = damage("config", config_doc(1))
    manifest = damage("manifest", manifest_doc(config, layers))
    index = damage("index", index_doc(manifest))
    _scan_layout(index, [manifest, config, *layers], rules)


@budget(40)
@given(
    second=st.one_of(
        st.binary(max_size=2048),
        mutated(COMPRESS["gzip"](LAYER), min_ops=1),
        st.sampled_from(["none", "gzip", "zstd", "xz", "bzip2"]).flatmap(
            lambda how: mutated(COMPRESS[how](LAYER), min_ops=1)
        ),
        st.builds(COMPRESS["zstd"], mutated(LAYER, min_ops=1, zero_blocks=True)),
    )
)
def test_fuzz_image_bad_layer_fails_alone(second: bytes, rules: Path) -> None:
    layers = layer_blobs(second)
    config = dumps(config_doc(2))
    manifest = dumps(manifest_doc(config, layers))
    found = _scan_layout(dumps(index_doc(manifest)), [manifest, config, *layers], rules)
    assert {SECRET, SECRET_ENV} <= found


@budget(40)
@given(
    manifest=st.one_of(
        st.binary(max_size=300),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.builds(
            lambda v, p: json.dumps(
                poke([{"Config": "c.json", "RepoTags": ["a:b"], "Layers": ["l/layer.tar"]}], p, v)
            ).encode(),
            JSON_VALUES,
            st.lists(st.integers(0, 5), max_size=3),
        ),
    ),
    extra=st.dictionaries(
        st.sampled_from(["repositories", "c.json", "l/layer.tar", "index.json", "blobs/sha256/x"]),
        st.binary(max_size=200),
        max_size=3,
    ),
    config_key=st.tuples(st.integers(0, 99), JSON_VALUES | st.sampled_from(WRONG_TYPES)),
)
def test_fuzz_docker_archive(
    manifest: bytes, extra: dict[str, bytes], config_key: tuple[int, Any], rules: Path
) -> None:
    paths = KEY_PATHS["config"]
    config = set_key(config_doc(1), paths[config_key[0] % len(paths)], config_key[1])
    members = {"c.json": dumps(config), "l/layer.tar": LAYER, **extra}
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        archive.write_bytes(tar_bytes([("manifest.json", manifest), *members.items()]))
        scan_checked(image_sources([f"docker-archive:{archive}"], SourceOptions()), rules)


@budget(30)
@given(
    data=st.one_of(
        st.binary(max_size=2048),
        mutated(tar_bytes([("manifest.json", b"[]"), ("index.json", b"{}")])),
    )
)
def test_fuzz_image_archive_bytes(data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        archive.write_bytes(data)
        scan_checked(
            image_sources([f"docker-archive:{archive}", f"oci-archive:{archive}"], SourceOptions()),
            rules,
        )


def test_image_seed_is_read_whole(rules: Path) -> None:
    layers = layer_blobs(COMPRESS["gzip"](LAYER))
    config = dumps(config_doc(2))
    manifest = dumps(manifest_doc(config, layers))
    assert digest(manifest)
    assert {SECRET, SECRET_ENV} <= _scan_layout(
        dumps(index_doc(manifest)), [manifest, config, *layers], rules
    )
