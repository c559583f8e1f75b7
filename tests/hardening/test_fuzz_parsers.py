"""Property: every parser of untrusted bytes gives results, a reported Skip or a LeakscanError.

Never another exception, never a hang (hypothesis deadline + pytest-timeout). The inputs are
both raw random bytes and mutations of valid documents (so the parsers get past their first
check). Budget: the ``default`` profile in tests/hardening/conftest.py; ``make fuzz`` runs the
``fuzz`` profile.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from leakscan.engine import decoders
from leakscan.errors import LeakscanError
from leakscan.model import Blob, Provenance
from leakscan.rules.loader import load_file
from leakscan.sources.env import EnvFileSource
from leakscan.sources.image.layer import iter_layer
from leakscan.sources.image.source import image_sources
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from leakscan.sources.manifests.source import structured_blobs
from leakscan.sources.registry.auth import parse_challenge
from leakscan.sources.registry.client import _next_link
from tests.hardening.helpers import ghp_token, run_sources, write_rules
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(120)

# -- strategies ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=25,
)


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members:
            zf.writestr(name, content)
    return buf.getvalue()


_SECRET = ghp_token()
_VALID_LAYER = _tar(
    [
        ("app/.env", f"TOKEN={_SECRET}\n".encode()),
        ("etc/.wh.passwd", b""),
        ("usr/lib/x.txt", b"hello\n" * 20),
    ]
)
_COMPRESS = {
    "none": lambda b: b,
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("fuzz-rules"))


# -- tar streams and compressed layers -----------------------------------------------------


@given(how=st.sampled_from(sorted(_COMPRESS)), data=st.data())
def test_fuzz_layer_stream(how: str, data: st.DataObject) -> None:
    raw = data.draw(
        st.one_of(
            st.binary(max_size=4096),
            mutated(_COMPRESS[how](_VALID_LAYER)),
            st.builds(_COMPRESS[how], mutated(_VALID_LAYER)),
        )
    )
    try:
        for entry in iter_layer(io.BytesIO(raw), "fuzz-layer", max_ratio=200):
            content = getattr(entry, "content", None)
            if content is not None:
                try:
                    while content.read(65536):
                        pass
                except (tarfile.TarError, EOFError, OSError):
                    # a member's bytes: the image source guards these reads (_READ_ERRORS)
                    # and turns them into an ImageError for the layer
                    break
    except LeakscanError:
        pass


# -- image manifests, indexes and configs ---------------------------------------------------


def _oci_layout(root: Path, index: bytes, manifest: bytes, config: bytes, layer: bytes) -> None:
    import hashlib

    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in (manifest, config, layer):
        (blobs / hashlib.sha256(blob).hexdigest()).write_bytes(blob)
    (root / "index.json").write_bytes(index)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def _valid_image() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], bytes]:
    import hashlib

    layer = gzip.compress(_VALID_LAYER, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": [f"T={_SECRET}"]},
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(_VALID_LAYER).hexdigest()],
        },
        "history": [{"created_by": "COPY . /"}],
    }
    cfg = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(),
            "size": len(cfg),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                "size": len(layer),
            }
        ],
    }
    mdata = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + hashlib.sha256(mdata).hexdigest(),
                "size": len(mdata),
                "annotations": {"org.opencontainers.image.ref.name": "v1"},
            }
        ],
    }
    return index, manifest, config, layer


def _poke(doc: Any, path: list[int], value: Any) -> Any:
    """Replace one node (chosen by successive indexes) of a JSON tree with ``value``."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    doc[key] = _poke(doc[key], path[1:], value)
    return doc


@given(
    which=st.sampled_from(["index", "manifest", "config"]),
    path=st.lists(st.integers(0, 20), max_size=5),
    value=json_values,
    raw=st.none() | st.binary(max_size=300),
)
def test_fuzz_oci_documents(
    which: str, path: list[int], value: Any, raw: bytes | None, rules: Path
) -> None:
    import hashlib

    index, manifest, config, layer = _valid_image()
    docs = {"index": index, "manifest": manifest, "config": config}
    docs[which] = _poke(docs[which], path, value)
    index, manifest, config = docs["index"], docs["manifest"], docs["config"]
    cfg = raw if raw is not None and which == "config" else json.dumps(config).encode()
    # keep the digests chained so that the mutated document is reached
    if (
        which != "config"
        and isinstance(manifest, dict)
        and isinstance(manifest.get("config"), dict)
    ):
        manifest["config"]["digest"] = "sha256:" + hashlib.sha256(cfg).hexdigest()
    mdata = raw if raw is not None and which == "manifest" else json.dumps(manifest).encode()
    if (
        which != "index"
        and isinstance(index, dict)
        and isinstance(index.get("manifests"), list)
        and index["manifests"]
    ):
        first = index["manifests"][0]
        if isinstance(first, dict):
            first["digest"] = "sha256:" + hashlib.sha256(mdata).hexdigest()
            first["size"] = len(mdata)
    idata = raw if raw is not None and which == "index" else json.dumps(index).encode()
    with tempfile.TemporaryDirectory() as tmp:
        _oci_layout(Path(tmp) / "oci", idata, mdata, cfg, layer)
        run_sources(image_sources([f"oci:{tmp}/oci"], SourceOptions()), rules)


@given(
    manifest=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
    extra=st.dictionaries(
        st.sampled_from(
            ["repositories", "config.json", "layer.tar", "index.json", "blobs/sha256/x"]
        ),
        st.binary(max_size=200),
        max_size=3,
    ),
)
def test_fuzz_docker_archive(manifest: bytes, extra: dict[str, bytes], rules: Path) -> None:
    members = [("manifest.json", manifest), *extra.items()]
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        archive.write_bytes(_tar(members))
        run_sources(image_sources([f"docker-archive:{archive}"], SourceOptions()), rules)


@given(data=st.binary(max_size=2048))
def test_fuzz_image_archive_bytes(data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "image.tar"
        archive.write_bytes(data)
        run_sources(
            image_sources([f"docker-archive:{archive}", f"oci-archive:{archive}"], SourceOptions()),
            rules,
        )


# -- registry response headers -------------------------------------------------------------

_HEADERISH = st.text(
    alphabet=st.sampled_from(list("Bearer realm=\"scope,service= \\'<>;relnext:/ab\t\x00\u00e9")),
    max_size=200,
)


@given(header=st.one_of(st.text(max_size=200), _HEADERISH))
def test_fuzz_www_authenticate(header: str) -> None:
    scheme, params = parse_challenge(header)
    assert isinstance(scheme, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@given(header=st.one_of(st.text(max_size=200), _HEADERISH))
def test_fuzz_link_header(header: str) -> None:
    link = _next_link(header)
    assert link is None or isinstance(link, str)


# -- manifests, .env files, config files ---------------------------------------------------

_MANIFEST_NAMES = [
    "values.yaml",
    "docker-compose.yml",
    "Dockerfile",
    ".env",
    "config.json",
    "settings.toml",
    "app.ini",
    "deploy.yaml",
    "secret.yml",
    "app.properties",
]
_YAMLISH = st.text(
    alphabet=st.sampled_from(list("abcKEY_=:-&*<>[]{}|\"'#!\n \t$\\u00é1")), max_size=400
)
_VALID_K8S = (
    b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  token: "
    b"Z2hwX2FiYw==\nstringData:\n  pw: &a hunter2xx\n  again: *a\n"
)


@given(
    name=st.sampled_from(_MANIFEST_NAMES),
    data=st.one_of(st.binary(max_size=600), _YAMLISH.map(str.encode), mutated(_VALID_K8S)),
    kind=st.sampled_from([None, "k8s", "compose", "dockerfile", "dotenv", "helm"]),
)
def test_fuzz_manifest_parsers(name: str, data: bytes, kind: str | None) -> None:
    blob = Blob(Provenance("file", {"path": name}), data=data)
    for item in structured_blobs(blob, kind):
        assert item is not None


@given(name=st.sampled_from(_MANIFEST_NAMES), data=st.binary(max_size=600))
def test_fuzz_manifest_source_files(name: str, data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(data)
        run_sources([manifest_aware_source(tmp, SourceOptions())], rules)


@given(data=st.one_of(st.binary(max_size=600), _YAMLISH.map(str.encode)))
def test_fuzz_env_file(data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.env").write_bytes(data)
        run_sources([EnvFileSource(f"{tmp}/x.env", SourceOptions())], rules)


# -- nested archives -----------------------------------------------------------------------

_INNER = _zip([("conf/app.properties", f"token={_SECRET}\n".encode())])
_NESTED = _tar([("lib/inner.jar", _INNER), ("readme.txt", b"hi\n")])


@given(
    name=st.sampled_from(["a.zip", "a.jar", "a.tar", "a.tar.gz", "a.tgz", "a.gz", "a.whl"]),
    data=st.one_of(
        st.binary(max_size=1024),
        mutated(_INNER),
        mutated(_NESTED),
        st.builds(gzip.compress, mutated(_NESTED)),
    ),
)
def test_fuzz_nested_archives(name: str, data: bytes, rules: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(data)
        run_sources([manifest_aware_source(tmp, SourceOptions())], rules)


# -- rule files ----------------------------------------------------------------------------

_VALID_RULES = (
    b"rules:\n  - id: x.y\n    name: X\n    pattern: '(ab[0-9]{4})'\n    keywords: [ab]\n"
    b"    examples:\n      - text: 'k = ab1234'\n        secret: ab1234\n"
    b"    negative_examples:\n      - 'ab12'\n"
)


@given(data=st.one_of(st.binary(max_size=400), _YAMLISH.map(str.encode), mutated(_VALID_RULES)))
def test_fuzz_rule_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "rules.yaml"
        file.write_bytes(data)
        try:
            load_file(file)
        except LeakscanError:
            pass


# -- the engine on arbitrary bytes ---------------------------------------------------------

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


@given(data=st.one_of(st.binary(max_size=4096), _ENCODED))
def test_fuzz_decoders(data: bytes) -> None:
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


@given(data=st.one_of(st.binary(max_size=4096), _ENCODED), context=st.none() | st.text(max_size=20))
def test_fuzz_detector_builtin_rules(
    data: bytes, context: str | None, builtin_detector: Any
) -> None:
    detector = builtin_detector
    for match in detector.scan(data, context):
        assert match.line >= 1
    detector.scan_stream(io.BytesIO(data), context)
