"""Silent caps and silent skips (issue 19 case 6).

Each cap that drops content is listed in ``skipped`` with its count and the flag that raises
it; a high-confidence rule's full-pattern match is never dropped by the hits cap; a UTF-16
file with one stray byte is still read; a text file whose first byte is NUL, and tars
compressed with xz, bzip2 or zstd inside a tree, are scanned."""

from __future__ import annotations

import base64
import bz2
import io
import json
import lzma
import random
import string
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from typer.testing import CliRunner

from leakscan.cli import app
from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(300)

_RNG = random.SystemRandom()
_B32 = string.ascii_uppercase + "234567"
_B62 = string.ascii_letters + string.digits


def _rand(alphabet: str, n: int) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


CAP_RULES = """\
rules:
  - id: test.cap.key
    name: Test high-confidence key
    pattern: '\\b(CAPK[A-Z2-7]{16})\\b'
    keywords: [CAPK]
    confidence: high
    severity: high
    allow: ['^CAPKLOOK']
    examples:
      - {text: 'key = CAPKQ7RT2MZXW5PLNV3B', secret: 'CAPKQ7RT2MZXW5PLNV3B'}  # leakscan:allow
    negative_examples: ['key = CAPKLOOKAAAAAAAAAAAA']
  - id: test.cap.pw
    name: Test medium-confidence password
    pattern: 'pw=([A-Za-z0-9]{16})'
    keywords: ['pw=']
    confidence: medium
    severity: medium
    allow: ['^zz']
    examples:
      - {text: 'pw=Qm4XrT9vLk2WpZ7s', secret: 'Qm4XrT9vLk2WpZ7s'}  # leakscan:allow
    negative_examples: ['pw=zzabcdefghijklmn']
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_rules(tmp_path_factory.mktemp("cap-rules"))
    (folder / "caps.yaml").write_text(CAP_RULES)
    return folder


def _scan(rules: Path, target: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app,
        ["scan", str(target), "--rules", str(rules), "-f", "json", "--show-secrets", *flags],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _found(doc: dict[str, Any]) -> set[str]:
    return {f["secret"] for f in doc["findings"]}


def _skips(doc: dict[str, Any]) -> list[str]:
    return [s["reason"] for s in doc["skipped"]]


def test_hits_cap_is_reported_and_can_be_raised(rules: Path, tmp_path: Path) -> None:
    real = _rand(_B62, 16)
    lines = [f"pw=zz{_rand(_B62, 14)}" for _ in range(12_000)] + [f"pw={real}"]
    (tmp_path / "flood.txt").write_text("\n".join(lines) + "\n")
    _, doc = _scan(rules, tmp_path)
    assert real not in _found(doc)
    assert any(
        "test.cap.pw over the cap of 10000" in r and "--max-hits-per-rule" in r for r in _skips(doc)
    ), _skips(doc)
    code, doc = _scan(rules, tmp_path, "--max-hits-per-rule", "20000")
    assert code == 1 and real in _found(doc)
    assert not any("over the cap" in r for r in _skips(doc))


def test_high_confidence_match_after_a_flood_of_lookalikes(rules: Path, tmp_path: Path) -> None:
    real = "CAPK" + _rand(_B32, 16)
    lines = [f"key = CAPKLOOK{_rand(_B32, 12)}" for _ in range(20_000)] + [f"key = {real}"]
    (tmp_path / "lookalikes.txt").write_text("\n".join(lines) + "\n")
    code, doc = _scan(rules, tmp_path)
    assert code == 1
    assert [f["rule_id"] for f in doc["findings"] if f["secret"] == real] == ["test.cap.key"]


def test_decoded_regions_cap_is_reported_and_can_be_raised(rules: Path, tmp_path: Path) -> None:
    secret = ghp_token()
    noise = [base64.b64encode(f"note {_rand(_B62, 30)}".encode()).decode() for _ in range(2_100)]
    hidden = base64.b64encode(f"token = {secret}".encode()).decode()
    (tmp_path / "blobs.txt").write_text("\n".join([*noise, hidden]) + "\n")
    _, doc = _scan(rules, tmp_path)
    assert secret not in _found(doc)
    assert any(
        "decoded region(s) over the cap of 2000" in r and "--max-decoded-regions" in r
        for r in _skips(doc)
    ), _skips(doc)
    code, doc = _scan(rules, tmp_path, "--max-decoded-regions", "5000")
    assert code == 1 and secret in _found(doc)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_with_a_stray_trailing_byte(rules: Path, tmp_path: Path, encoding: str) -> None:
    secret = ghp_token()
    text = "# settings\n" * 20 + f"token = {secret}\n"
    (tmp_path / "settings.txt").write_bytes(text.encode(encoding) + b"\x0a")
    code, doc = _scan(rules, tmp_path)
    assert code == 1 and secret in _found(doc)


def test_text_file_starting_with_nul_is_scanned(rules: Path, tmp_path: Path) -> None:
    secret = ghp_token()
    (tmp_path / "deploy.yaml").write_bytes(b"\x00" + f"token: {secret}\n".encode())
    code, doc = _scan(rules, tmp_path)
    assert code == 1 and secret in _found(doc)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


COMPRESSORS = {
    "bundle.tar.xz": lzma.compress,
    "bundle.txz": lzma.compress,
    "bundle.tar.bz2": bz2.compress,
    "bundle.tbz2": bz2.compress,
    "bundle.tar.zst": lambda d: zstandard.ZstdCompressor().compress(d),
    "config.json.xz": None,  # a single compressed file, not a tar
}


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_nested_xz_bzip2_zstd_are_scanned(rules: Path, tmp_path: Path, name: str) -> None:
    secret = ghp_token()
    compress = COMPRESSORS[name]
    if compress is None:
        data = lzma.compress(json.dumps({"token": secret}).encode())
        where = f"{name}!config.json"
    else:
        data = compress(_tar({"etc/app.env": f"TOKEN={secret}\n".encode()}))
        where = f"{name}!etc/app.env"
    (tmp_path / name).write_bytes(data)
    code, doc = _scan(rules, tmp_path)
    assert code == 1, doc["skipped"]
    paths = [
        loc["path"] for f in doc["findings"] if f["secret"] == secret for loc in f["locations"]
    ]
    assert [Path(p).name for p in paths] == [Path(where).name] and paths[0].endswith(where)


def test_corrupt_nested_xz_is_a_listed_skip(rules: Path, tmp_path: Path) -> None:
    data = lzma.compress(_tar({"a.txt": b"x" * 10_000}))
    (tmp_path / "cut.tar.xz").write_bytes(data[: len(data) // 2])
    _, doc = _scan(rules, tmp_path)
    assert any(Path(s["where"]).name == "cut.tar.xz" for s in doc["skipped"]), doc["skipped"]
