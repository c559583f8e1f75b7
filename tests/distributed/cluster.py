"""A real Dask cluster on loopback: ``dask scheduler`` and ``dask worker`` processes.

Workers run with ``--no-nanny`` (a killed worker stays dead) and one thread each, with this
checkout first on their ``PYTHONPATH``; every process logs at debug level to its own file so
that tests can read what a cluster writes down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.plugins.registry import free_port

ROOT = Path(__file__).resolve().parents[2]

#: the Dask settings docs/scale.md advises for a cluster that only runs audits: no statistical
#: profiler sampling the workers every 10 ms, event-loop checks once a second, the system
#: monitor every 5 s without GIL sampling (an idle cluster's CPU drops ~6x)
ADVISED = {
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__GIL__ENABLED": "False",
}


@dataclass
class DaskCluster:
    address: str
    logs: Path
    scheduler: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    root: Path = ROOT  # the leakscan checkout the workers import
    env: dict[str, str] = field(default_factory=dict)  # e.g. Dask settings (DASK_...)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def kill(self, name: str) -> None:
        proc = self.workers.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def _env(root: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    env["DASK_LOGGING__DISTRIBUTED"] = "debug"
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "false"
    return env


def _spawn(
    args: list[str], log: Path, root: Path = ROOT, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(root, extra or {}),
            cwd=root,  # `python -m` puts the working directory first on the path
        )


def start_worker(cluster: DaskCluster, name: str) -> None:
    cluster.workers[name] = _spawn(
        ["distributed.cli.dask_worker", cluster.address, "--name", name, "--nthreads", "1",
         "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0",
         "--local-directory", str(cluster.logs / name)],
        cluster.logs / f"worker-{name}.log",
        cluster.root,
        cluster.env,
    )  # fmt: skip


def wait_for_workers(cluster: DaskCluster, n: int) -> None:
    from distributed import Client

    with Client(cluster.address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=120)


@contextlib.contextmanager
def running_cluster(
    tmp: Path,
    workers: tuple[str, ...] = ("w1", "w2"),
    root: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Iterator[DaskCluster]:
    """A scheduler and ``workers`` with the Dask settings ``env`` (default: :data:`ADVISED`;
    ``{}``: Dask's own defaults)."""
    env = ADVISED if env is None else env
    port = free_port()
    logs = tmp / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)
    scheduler = _spawn(
        ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"],
        logs / "scheduler.log",
        root,
        env,
    )  # fmt: skip
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", logs, scheduler, root=root, env=env)
    try:
        deadline = time.monotonic() + 60
        while scheduler.poll() is None and "Scheduler at" not in (logs / "scheduler.log").read_text(
            errors="replace"
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start: " + cluster.log_text()[-500:])
            time.sleep(0.1)  # startup of a real process (not a test's timing)
        if scheduler.poll() is not None:
            raise RuntimeError("dask scheduler exited: " + cluster.log_text()[-500:])
        for name in workers:
            start_worker(cluster, name)
        wait_for_workers(cluster, len(workers))
        yield cluster
    finally:
        for proc in [*cluster.workers.values(), scheduler]:
            proc.terminate()
        for proc in [*cluster.workers.values(), scheduler]:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
