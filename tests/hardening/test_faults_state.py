"""A full disk for the audit state file.

``--state`` where no file can be created (under /proc: even root cannot) is a clear error and
exit 2. A state file on a tiny tmpfs that fills up in the middle of the audit: the images go
on being scanned, every finding is in the report, the error says what could not be saved,
exit 2; once there is room again the audit resumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.faultproxy import FaultProxy
from tests.hardening.test_faults_registry import _found_in, _port, _scan, fault_registry

__all__ = ["fault_registry"]  # the module-scoped registry fixture, shared by import

pytestmark = pytest.mark.timeout(120)


def test_state_path_that_cannot_be_created(fault_registry: dict[str, Any]) -> None:
    state = f"/proc/leakscan-{uuid.uuid4().hex}/audit.sqlite"
    code, out, err = _scan(
        ["audit", fault_registry["reg"].host, "--insecure", "--state", state],
        fault_registry["rules"],
    )
    assert code == 2, (out[-1000:], err[-2000:])
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("leakscan: error:")]
    assert len(lines) == 1 and "state" in lines[0] and state in lines[0], err
    assert not lines[0].startswith("leakscan: error: unexpected "), lines


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass


def test_state_disk_fills_mid_audit(fault_registry: dict[str, Any], tiny_tmpfs: Path) -> None:
    images = fault_registry["images"]
    state = tiny_tmpfs / "audit.sqlite"
    second = images["b"].layer_digests[0]
    filled: list[bool] = []

    def fill_on_second_image(method: str, path: str) -> None:
        if method == "GET" and path.endswith(second) and not filled:
            filled.append(True)
            _fill(tiny_tmpfs)

    with FaultProxy(_port(fault_registry["reg"]), on_request=fill_on_second_image) as proxy:
        code, out, err = _scan(
            ["audit", proxy.host, "--insecure", "--state", str(state), "--workers", "1"],
            fault_registry["rules"],
        )
        assert filled
        assert code == 2, (out[-1000:], err[-2000:])
        assert "Traceback" not in err
        doc = json.loads(out)
        found = _found_in(out)
        # every image was scanned and reported, though b and c could not be saved
        assert sorted(found) == ["faults/a", "faults/b", "faults/c"], (found, doc["errors"])
        assert doc["errors"], doc
        assert all("full" in e or "state" in e or "cache" in e for e in doc["errors"]), doc
        os.unlink(tiny_tmpfs / "filler")
        proxy.requests.clear()
        code, out, err = _scan(
            ["audit", proxy.host, "--insecure", "--state", str(state)], fault_registry["rules"]
        )
        assert code == 1, (out[-1000:], err[-2000:])
        assert _found_in(out) == found
        assert json.loads(out)["stats"]["images_from_state"] >= 1
        for digest in images["a"].layer_digests:  # saved before the disk filled
            assert proxy.blob_gets(digest) == 0
