"""A Dask distributed cluster as the audit uses it: layer tasks in, their results out.

Dask is an optional extra (``pip install 'leakscan[dask]'``), imported only here and only
when a scheduler is named. Each layer is one task keyed ``leakscan-layer-<digest>``; a task
whose worker dies is run again on another (``retries``), and its result is taken once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from leakscan.distributed.payload import LayerResult, LayerTask, task_key
from leakscan.errors import LeakscanError
from leakscan.sources.image.source import layer_key
from leakscan.userinfo import hide_userinfo

log = logging.getLogger(__name__)

RETRIES = 3  # a task's attempts beyond the first (a worker lost, a registry hiccup)
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler


class Cluster:
    """A connection to a Dask scheduler (``tcp://host:8786``)."""

    def __init__(self, address: str, client: Any = None) -> None:
        self.address = address
        self._client = client
        self._futures: list[Any] = []

    def _connect(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise LeakscanError(
                    "--scheduler needs Dask: pip install 'leakscan[dask]' (or "
                    "'dask[distributed]') on this machine and on the workers"
                ) from None
            try:
                self._client = Client(  # type: ignore[no-untyped-call]
                    self.address, timeout=CONNECT_TIMEOUT, set_as_default=False
                )
            except (OSError, TimeoutError, ValueError) as exc:
                raise LeakscanError(
                    f"cannot reach the Dask scheduler at {hide_userinfo(self.address)}: {exc}"
                ) from None
        return self._client

    def workers(self) -> int:
        info = self._connect().scheduler_info()
        return len(info.get("workers", {}))

    def submit(self, task: LayerTask, done: Callable[[Any, LayerTask], None]) -> None:
        """Send a layer's task; ``done(future, task)`` is called (in another thread) when it
        ends, whichever way. Its result is read with :meth:`result`."""
        from leakscan.distributed.worker import scan_layer

        client = self._connect()
        future = client.submit(
            scan_layer, task, key=task_key(task.layer.digest), retries=RETRIES, pure=False
        )
        self._futures.append(future)
        future.add_done_callback(lambda f: done(f, task))

    def result(self, future: Any, task: LayerTask) -> LayerResult:
        """A finished task's result (one that failed on every attempt: a result without a
        record, which the local audit reads itself)."""
        try:
            result: LayerResult = future.result()
        except Exception as exc:
            why = hide_userinfo(f"{type(exc).__name__}: {exc}")[:300]
            log.warning("layer task %s failed on the cluster: %s", future.key, why)
            result = LayerResult(task.layer.digest, layer_key(task.layer), None, [], problem=why)
        return result

    def cancel(self) -> None:
        """Cancel the tasks still running and release all."""
        if self._client is not None and self._futures:
            self._client.cancel([f for f in self._futures if not f.done()])
        for future in self._futures:
            future.release()
        self._futures = []

    def close(self) -> None:
        self.cancel()
        if self._client is not None:
            self._client.close()
            self._client = None
