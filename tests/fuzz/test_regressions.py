"""Crashes the fuzz targets found, each kept as a fixed input (see docs/security.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from leakscan.sources.env import EnvFileSource
from leakscan.sources.interface import SourceOptions
from leakscan.sources.manifests import manifest_aware_source
from tests.fuzz.harness import scan_checked, secrets_of
from tests.fuzz.seeds import SECRET, tar_bytes
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
