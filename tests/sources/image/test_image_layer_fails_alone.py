"""One bad layer fails alone (issue 19 case 2): a truncated tar, a corrupt or hostile
compressed stream, an absurd PAX size or a missing blob in one layer used to lose the whole
image (``0 secret(s)``, config ``Env`` included). Now the other layers and the config still
report, the error names the layer, and the exit code is 2 with the findings kept."""

from __future__ import annotations

import bz2
import io
import lzma
import os
import struct
import tarfile
from pathlib import Path

import pytest

from tests.sources.image.helpers import (
    by_secret,
    run_cli,
    tar_bytes,
    token,
    write_oci_layout,
    write_rules,
)

FLAGS = ["-f", "json", "--show-secrets", "--no-progress"]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("rules"))


def _truncated(secret: str) -> bytes:
    raw = tar_bytes([("big.bin", os.urandom(20_000)), ("late.txt", f"t={secret}".encode())])
    return raw[: len(raw) // 2]


def _zstd_huge_window() -> bytes:
    # a frame header declaring a 2 GiB window (Window_Descriptor exponent 21 -> 2^31)
    magic = b"\x28\xb5\x2f\xfd"
    frame_header_descriptor = b"\x00"  # no checksum, no dict, window descriptor present
    window_descriptor = bytes([(31 - 10) << 3])
    block = struct.pack("<I", (1 << 3) | 1)[:3]  # a 1-byte raw last block... then garbage
    return magic + frame_header_descriptor + window_descriptor + block + b"\x00" * 64


def _xz_huge_dictionary() -> bytes:
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1536 * 1024**2}]
    return lzma.compress(tar_bytes([("a.txt", b"x")]), format=lzma.FORMAT_XZ, filters=filters)


def _pax_size() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("huge.bin")
        info.size = 10
        info.pax_headers = {"size": str(2**44 - 1)}
        tar.addfile(info, io.BytesIO(b"0123456789"))
    return buf.getvalue()


BAD_LAYERS = {
    "truncated-tar": None,  # built per test (holds a secret past the cut)
    "not-a-tar": b"\x00junk" * 300,
    "cut-gzip": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 40,
    "zstd-2gib-window": _zstd_huge_window(),
    "xz-1.5gib-dictionary": _xz_huge_dictionary(),
    "pax-size-2^44-1": _pax_size(),
}


@pytest.mark.parametrize("kind", list(BAD_LAYERS))
def test_one_bad_layer_fails_alone(tmp_path: Path, rules: Path, kind: str) -> None:
    before, after, in_env = token(), token(), token()
    bad = BAD_LAYERS[kind] or _truncated(token())
    digests = write_oci_layout(
        tmp_path / "oci",
        [
            (tar_bytes([("app/before.txt", f"t={before}".encode())]), "gzip"),
            (bad, "none"),
            (tar_bytes([("app/after.txt", f"t={after}".encode())]), "zstd"),
        ],
        config_extra={"config": {"Env": [f"GITHUB_TOKEN={in_env}"]}},
    )
    code, doc, err = run_cli(
        ["scan", "image", f"oci:{tmp_path / 'oci'}", "--rules", str(rules), *FLAGS]
    )
    assert "Traceback" not in err
    assert code == 2, err
    assert doc is not None
    found = by_secret(doc)
    assert before in found and after in found and in_env in found
    lines = [line for line in err.strip().splitlines() if line.startswith("leakscan: error")]
    assert len(lines) == 1 and "layer 2" in lines[0] and digests["layers"][1] in lines[0], err
    assert any("layer 2" in s["where"] for s in doc["skipped"]), doc["skipped"]


def test_missing_layer_blob_fails_alone(tmp_path: Path, rules: Path) -> None:
    first, second = token(), token()
    digests = write_oci_layout(
        tmp_path / "oci",
        [
            (tar_bytes([("a.txt", f"t={first}".encode())]), "gzip"),
            (tar_bytes([("b.txt", f"t={second}".encode())]), "gzip"),
        ],
    )
    os.remove(tmp_path / "oci" / "blobs" / "sha256" / digests["layers"][0][7:])
    code, doc, err = run_cli(
        ["scan", "image", f"oci:{tmp_path / 'oci'}", "--rules", str(rules), *FLAGS]
    )
    assert code == 2 and "layer 1" in err and "Traceback" not in err
    assert doc is not None and second in by_secret(doc) and first not in by_secret(doc)


@pytest.mark.parametrize("how", ["xz", "bzip2"])
def test_xz_and_bzip2_layers_are_read(tmp_path: Path, rules: Path, how: str) -> None:
    secret = token()
    raw = tar_bytes([("etc/app.conf", f"t={secret}".encode())])
    blob = lzma.compress(raw) if how == "xz" else bz2.compress(raw)
    write_oci_layout(tmp_path / "oci", [(blob, "none")])
    code, doc, err = run_cli(
        ["scan", "image", f"oci:{tmp_path / 'oci'}", "--rules", str(rules), *FLAGS]
    )
    assert code == 1, err
    assert doc is not None and by_secret(doc)[secret]["locations"][0]["path"] == "etc/app.conf"


@pytest.mark.parametrize("kind", ["truncated-tar", "zstd-2gib-window"])
def test_one_bad_layer_fails_alone_in_an_oci_archive(
    tmp_path: Path, rules: Path, kind: str
) -> None:
    from tests.sources.image.helpers import tar_dir

    before, after = token(), token()
    bad = BAD_LAYERS[kind] or _truncated(token())
    write_oci_layout(
        tmp_path / "oci",
        [
            (tar_bytes([("before.txt", f"t={before}".encode())]), "gzip"),
            (bad, "none"),
            (tar_bytes([("after.txt", f"t={after}".encode())]), "gzip"),
        ],
    )
    archive = tar_dir(tmp_path / "oci", tmp_path / "image.tar")
    code, doc, err = run_cli(
        ["scan", "image", f"oci-archive:{archive}", "--rules", str(rules), *FLAGS]
    )
    assert code == 2 and "Traceback" not in err and "layer 2" in err, err
    assert doc is not None and {before, after} <= set(by_secret(doc))
