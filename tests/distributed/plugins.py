"""A worker plugin that kills its worker's process when a layer task starts on it (once)."""

from __future__ import annotations

import os
import signal
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class DieOnFirstLayer(WorkerPlugin):  # type: ignore[misc]
    """Installed on every worker; acts on the worker named ``victim`` only."""

    name = "leakscan-test-die-on-first-layer"

    def __init__(self, victim: str) -> None:
        self.victim = victim
        self.worker_name = ""

    def setup(self, worker: Any) -> None:
        self.worker_name = str(worker.name)

    def teardown(self, worker: Any) -> None:
        return None

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if (
            self.worker_name == self.victim
            and finish == "executing"
            and str(key).startswith(("leakscan-layer-", "leakscan-layers-"))
        ):
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-task, like a machine lost
