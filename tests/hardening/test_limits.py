"""Each limit, hit through the CLI, is reported in the output's ``skipped`` list (what and why)."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.errors import LeakscanError
from leakscan.sources.image.layer import BombError, iter_layer
from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One rule folder for the module: the detector is compiled once."""
    return write_rules(tmp_path_factory.mktemp("limit-rules"))


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _scan(rules: Path, target: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "path",
            str(target),
            "--format",
            "json",
            "--no-progress",
            "--rules",
            str(rules),
            *flags,
        ],
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout or "{}"), result.stderr


def _skips(doc: dict[str, Any]) -> list[str]:
    return [f"{s['where']}: {s['reason']}" for s in doc["skipped"]]


def test_max_file_size_is_reported(tmp_path: Path, rules: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "big.txt").write_text("x" * 4000 + ghp_token())
    (root / "small.txt").write_text(f"t={ghp_token()}\n")
    code, doc, _ = _scan(rules, root, "--max-file-size", "2K")
    assert code == 1  # the small file's token is still found
    assert any("big.txt" in s and "2048" in s for s in _skips(doc)), _skips(doc)
    code, doc, _ = _scan(rules, root)
    assert not any("big.txt" in s for s in _skips(doc))


def test_max_file_size_rejects_nonsense(tmp_path: Path, rules: Path) -> None:
    code, _, err = _scan(rules, tmp_path, "--max-file-size", "lots")
    assert code == 2 and "--max-file-size" in err and "Traceback" not in err


def test_archive_depth_is_reported(tmp_path: Path, rules: Path) -> None:
    secret = ghp_token()
    inner = _zip({"conf/app.properties": f"token={secret}\n".encode()})
    outer = _zip({"lib/inner.jar": inner})
    root = tmp_path / "tree"
    root.mkdir()
    (root / "app.zip").write_bytes(outer)
    code, doc, _ = _scan(rules, root, "--max-archive-depth", "1", "--show-secrets")
    assert code == 0, doc
    assert any("inner.jar" in s and "deeper than 1" in s for s in _skips(doc)), _skips(doc)
    code, doc, _ = _scan(rules, root, "--show-secrets")
    assert code == 1 and secret in json.dumps(doc["findings"])


def test_decompression_ratio_is_reported(tmp_path: Path, rules: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "bomb.zip").write_bytes(_zip({"zeros.txt": b"\0" * (4 * 1024 * 1024)}))
    (root / "bomb.txt.gz").write_bytes(gzip.compress(b"A" * (4 * 1024 * 1024)))
    code, doc, _ = _scan(rules, root, "--max-ratio", "20")
    skips = _skips(doc)
    assert any("zeros.txt" in s or "bomb.zip" in s for s in skips), skips
    assert any("bomb.txt.gz" in s for s in skips), skips
    assert code == 0


def test_yaml_alias_bomb_is_reported(tmp_path: Path, rules: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    root = tmp_path / "tree"
    root.mkdir()
    (root / "values.yaml").write_text("\n".join(lines) + f"\ntoken: {ghp_token()}\n")
    code, doc, _ = _scan(rules, root)
    assert code == 1  # still scanned as text: the token is found
    assert any("values.yaml" in s and "alias" in s for s in _skips(doc)), _skips(doc)


def test_regex_timeout_is_reported(tmp_path: Path, rules: Path) -> None:
    slow = tmp_path / "slow-rules"
    slow.mkdir()
    (slow / "slow.yaml").write_text(
        "rules:\n  - id: test.hardening.backtracking\n    name: Catastrophic pattern\n"
        "    pattern: '(xq(?:a|a)+(?=y)y)'\n    keywords: [xqa]\n"
        "    examples:\n      - text: 'v = xqaay'\n        secret: xqaay\n"
        "    negative_examples:\n      - 'xqb'\n",
        encoding="utf-8",
    )
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.txt").write_text("xq" + "a" * 28 + "b\nv = xqaay\n")
    from leakscan.api import ScanConfig, scan
    from leakscan.sources.filesystem import FilesystemSource

    config = ScanConfig(rule_paths=(slow,), include_builtin=False, regex_timeout=0.05)
    result = scan([FilesystemSource(str(root), config.options)], config)
    assert any("regex timeout" in s.reason for s in result.skipped), result.skipped
    code, _, err = _scan(rules, root, "--regex-timeout", "0")
    assert code == 2 and "--regex-timeout" in err


def test_layer_size_limit_stops_the_layer() -> None:
    """--max-layer-size reaches SourceOptions.max_layer_bytes; iter_layer enforces it."""
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = 256 * 1024
        tar.addfile(info, io.BytesIO(b"\0" * info.size))
    blob = gzip.compress(buf.getvalue())
    with pytest.raises(BombError, match="--max-layer-size"):
        for entry in iter_layer(io.BytesIO(blob), "layer", max_bytes=64 * 1024):
            if getattr(entry, "content", None) is not None:
                while entry.content.read(65536):
                    pass
    assert issubclass(BombError, LeakscanError)
    from leakscan.cli.options import Options
    from leakscan.cli.settings import scan_config

    opts = Options(max_layer_size="1M")
    assert scan_config(opts).options.max_layer_bytes == 1024 * 1024
