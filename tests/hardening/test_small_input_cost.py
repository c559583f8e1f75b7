"""Cost from small inputs (issue 19 case 9).

- a compressed tar nested in a tree (1.3 MB inflating ~150:1 to 200 MB) was inflated whole
  in memory, then each member copied again (1 GB RSS for the issue's 2.5 MB ``.tgz``): it is
  now read as a stream, so memory does not grow with what it inflates to;
- an image manifest listing one layer 20 000 times read that layer 20 000 times: it is read
  once (and the repeat is listed).

Memory is the process's own peak RSS (``ru_maxrss``), compared with the same command on a
tiny tree: no timing assertions."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.hardening.helpers import ghp_token, write_rules
from tests.sources.image.helpers import tar_bytes, write_oci_layout

pytestmark = pytest.mark.timeout(300)

_RSS = (
    "import resource, sys, atexit\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from leakscan.cli import app\n"
    "app(sys.argv[1:], prog_name='leakscan')\n"
)


def _peak_rss_mb(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _RSS, *args, "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("MAXRSS_KB ")][-1]
    return int(line.split()[1]) / 1024, proc


class _Compressible(io.RawIOBase):
    """``n`` bytes: 1 000 random then 199 000 zero bytes, over and over (~150:1 in gzip)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.left <= 0:
            return 0
        chunk = (os.urandom(1000) + bytes(199_000))[: min(len(buffer), self.left)]
        buffer[: len(chunk)] = chunk
        self.left -= len(chunk)
        return len(chunk)


def test_nested_tgz_is_streamed_not_inflated_in_memory(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    secret = ghp_token()
    (small / "a.txt").write_text("nothing here\n")
    member = 50_000_000
    with tarfile.open(str(big / "data.tgz"), "w|gz") as tar:
        for i in range(4):
            info = tarfile.TarInfo(f"blob{i}.bin")
            info.size = member
            tar.addfile(info, io.BufferedReader(_Compressible(member), 1 << 20))
        text = f"TOKEN={secret}\n".encode()
        info = tarfile.TarInfo("late/app.env")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    inflated_mb = 4 * member / 1e6
    assert (big / "data.tgz").stat().st_size * 100 < 4 * member  # over 100:1
    base, _ = _peak_rss_mb("scan", str(small), "--rules", str(rules), "-f", "json")
    peak, proc = _peak_rss_mb(
        "scan", str(big), "--rules", str(rules), "-f", "json", "--show-secrets"
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    found = json.loads(proc.stdout)["findings"]
    assert [loc["path"] for f in found for loc in f["locations"]] == [
        f"{big / 'data.tgz'}!late/app.env"
    ]
    assert peak - base < inflated_mb / 4, (base, peak)  # it was over inflated_mb


def test_large_zip_member_is_streamed(tmp_path: Path) -> None:
    import shutil
    import zipfile

    rules = write_rules(tmp_path / "rules")
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    (small / "a.txt").write_text("nothing here\n")
    secret = ghp_token()
    member = 200_000_000
    with zipfile.ZipFile(big / "bundle.jar", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("data.bin", "w", force_zip64=True) as out:
            shutil.copyfileobj(io.BufferedReader(_Compressible(member), 1 << 20), out, 1 << 20)
        zf.writestr("META-INF/app.env", f"TOKEN={secret}\n")
    base, _ = _peak_rss_mb("scan", str(small), "--rules", str(rules), "-f", "json")
    peak, proc = _peak_rss_mb(
        "scan", str(big), "--rules", str(rules), "-f", "json", "--show-secrets"
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert secret in {f["secret"] for f in json.loads(proc.stdout)["findings"]}
    assert peak - base < member / 1e6 / 4, (base, peak)


def test_layer_listed_20000_times_is_read_once(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    secret = ghp_token()
    layer = tar_bytes([("app/", None), ("app/key.txt", f"k={secret}\n".encode())])
    first = tar_bytes([("etc/motd", b"hello\n")])
    write_oci_layout(tmp_path / "oci", [(first, "none")] + [(layer, "gzip")] * 20_000)
    proc = subprocess.run(
        [
            sys.executable, "-m", "leakscan.cli", "scan", "image", f"oci:{tmp_path / 'oci'}",
            "--rules", str(rules), "-f", "json", "--show-secrets", "--no-progress",
        ],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    [finding] = [f for f in doc["findings"] if f["secret"] == secret]
    assert [(loc["layer_index"], loc["state"]) for loc in finding["locations"]] == [
        (20_000, "present")
    ]
    assert doc["stats"]["layers_scanned"] == 2
    assert any("19999 repeated layer entries" in s["reason"] for s in doc["skipped"])
