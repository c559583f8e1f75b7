"""Signals during a scan (issue 19 case 8): SIGTERM killed ``scan`` with no report; Ctrl-C
with ``--jobs 2`` printed a traceback from every worker. Now both end like Ctrl-C did alone:
the findings made so far are written, one ``interrupted`` line, exit code 2.

The scan is held at a known point without sleeping: it reads a directory, then standard
input, which the test keeps open; the test waits until the process blocks in ``read(0)``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hardening.helpers import ghp_token, write_rules

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux /proc"),
]

_READ = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)

# the CLI with the pool started at once (the real threshold is 24 MB scanned serially)
_MAIN = (
    "import sys, leakscan.parallel as p; p.START_AFTER_BYTES = 0; "
    "from leakscan.cli import app; app(sys.argv[1:], prog_name='leakscan')"
)


def _blocked_on_stdin(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
        wchan = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False
    if _READ is not None and len(fields) > 1:
        return fields[0] == _READ and fields[1] == "0x0"
    return "pipe_read" in wchan


def _start(args: list[str], main: str | None = None) -> subprocess.Popen[bytes]:
    cmd = (
        [sys.executable, "-c", main, *args]
        if main
        else [sys.executable, "-m", "leakscan.cli", *args]
    )
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's job is
    )


def _wait_for_stdin_read(proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not _blocked_on_stdin(proc.pid):
        assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")[-2000:]
        assert time.monotonic() < deadline, "the scan never reached standard input"
        time.sleep(0.05)


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    rules = write_rules(tmp_path / "rules")
    root = tmp_path / "tree"
    root.mkdir()
    secrets = [ghp_token() for _ in range(30)]
    for i, secret in enumerate(secrets):
        (root / f"f{i}.env").write_text(f"TOKEN={secret}\n" + "filler line\n" * 2000)
    return root, rules, secrets


def _check(proc: subprocess.Popen[bytes], secrets: list[str]) -> str:
    out, err = proc.communicate(timeout=120)
    text = err.decode(errors="replace")
    assert proc.returncode == 2, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-3000:]
    assert "interrupted" in text
    found = {f["secret"] for f in json.loads(out)["findings"]}
    assert set(secrets) <= found
    return text


def test_sigterm_writes_findings_so_far_and_exits_2(tree: tuple[Path, Path, list[str]]) -> None:
    root, rules, secrets = tree
    proc = _start(["scan", str(root), "-", "--rules", str(rules), "-f", "json", "--show-secrets"])
    _wait_for_stdin_read(proc)
    proc.send_signal(signal.SIGTERM)
    _check(proc, secrets)


def test_ctrl_c_with_jobs_prints_no_worker_traceback(tree: tuple[Path, Path, list[str]]) -> None:
    root, rules, secrets = tree
    args = ["scan", str(root), "-", "--rules", str(rules), "-f", "json", "--show-secrets"]
    proc = _start([*args, "--jobs", "2"], main=_MAIN)
    _wait_for_stdin_read(proc)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole group
    _check(proc, secrets)
