"""A private Docker daemon (vfs storage, no networking, own socket in a temp dir).

Shared by the watch benchmark and the tests' ``dockerd`` fixture: started once, stopped by
its pid, its directory removed.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DaemonError(RuntimeError):
    """dockerd did not come up; the message ends with its log's tail."""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def private_dockerd(start_timeout: float = 60.0) -> Iterator[str]:
    """Run dockerd on a private socket; yields its ``unix://`` DOCKER_HOST."""
    root = Path(tempfile.mkdtemp(prefix="lsd", dir="/tmp"))  # short: socket path < 108 chars
    host = f"unix://{root / 'd.sock'}"
    log_path = root / "dockerd.log"
    with log_path.open("wb") as log:
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
        try:
            deadline = time.monotonic() + start_timeout
            while subprocess.run(["docker", "-H", host, "version"], capture_output=True).returncode:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise DaemonError(f"dockerd did not start:\n{tail}")
                time.sleep(0.3)
            yield host
        finally:
            _stop(proc)
            shutil.rmtree(root, ignore_errors=True)
