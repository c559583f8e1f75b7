"""A private Docker daemon for the test session (vfs storage, no networking, own socket).

``dockerd`` fixture: starts ``dockerd`` once, waits for it, sets ``DOCKER_HOST`` for the
session and stops it by pid at the end. Skips on a developer machine without dockerd or
root; fails under ``CI=true`` (see ``tests.conftest.require``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[str]:
    """The DOCKER_HOST of a running private dockerd."""
    require(shutil.which("dockerd") is not None, "dockerd is not installed (apt docker.io)")
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    require(os.geteuid() == 0, "dockerd needs root")
    root = Path(tempfile.mkdtemp(prefix="lsd", dir="/tmp"))  # short: socket path < 108 chars
    sock = root / "d.sock"
    host = f"unix://{sock}"
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        [
            "dockerd",
            "--storage-driver",
            "vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "-H",
            host,
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "docker.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    old = os.environ.get("DOCKER_HOST")
    try:
        deadline = time.monotonic() + 60
        while True:
            ok = subprocess.run(["docker", "-H", host, "version"], capture_output=True).returncode
            if ok == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (root / "dockerd.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"dockerd did not start:\n{tail}")
            time.sleep(0.3)
        os.environ["DOCKER_HOST"] = host
        yield host
    finally:
        if old is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old
        _stop(proc)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
