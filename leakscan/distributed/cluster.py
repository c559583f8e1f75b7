"""A Dask distributed cluster as the audit uses it: layer tasks in, their results out.

Dask is an optional extra (``pip install 'leakscan[dask]'``), imported only here and only
when a scheduler is named. A task holds one layer (keyed ``leakscan-layer-<digest>``) or a
batch of small ones (see :mod:`leakscan.distributed.batches`) and returns one result per
layer; a task whose worker dies is run again on another (``retries``), and a layer's result
is taken once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from leakscan.distributed.payload import LayerResult, LayerTask, batch_key
from leakscan.errors import LeakscanError
from leakscan.sources.image.source import layer_key
from leakscan.userinfo import hide_userinfo

log = logging.getLogger(__name__)

RETRIES = 3  # a task's attempts beyond the first (a worker lost, a registry hiccup)
CONNECT_TIMEOUT = 30  # seconds to reach the scheduler
THREADS_MAX_AGE = 5.0  # seconds a count of the cluster's worker threads is trusted


#: optional packages Dask imports when present and a coordinator never uses: numpy (buffers
#: for arrays received), jinja2 (HTML views for notebooks); ~0.1 s of the coordinator's start
_NOT_NEEDED = ("numpy", "jinja2")


def _dask_client() -> Any:
    """Dask's ``Client`` class, imported without :data:`_NOT_NEEDED` unless this process
    has them already (they import normally afterwards, should anything want them)."""
    blocked = [name for name in _NOT_NEEDED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # "not installed", for now
    try:
        from distributed import Client
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return Client


class Cluster:
    """A connection to a Dask scheduler (``tcp://host:8786``)."""

    def __init__(self, address: str, client: Any = None) -> None:
        self.address = address
        self._client = client
        self._futures: set[Any] = set()  # sent, results not taken yet
        self._threads: tuple[float, int] | None = None  # (when counted, worker threads)

    def _connect(self) -> Any:
        if self._client is None:
            try:
                Client = _dask_client()
            except ImportError:
                raise LeakscanError(
                    "--scheduler needs Dask: pip install 'leakscan[dask]' (or "
                    "'dask[distributed]') on this machine and on the workers"
                ) from None
            try:
                self._client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise LeakscanError(
                    f"cannot reach the Dask scheduler at {hide_userinfo(self.address)}: {exc}"
                ) from None
        return self._client

    def workers(self) -> int:
        info = self._connect().scheduler_info()
        workers = info.get("workers", {})
        self._threads = (time.monotonic(), sum(w.get("nthreads", 1) for w in workers.values()))
        return len(workers)

    def threads(self) -> int:
        """The worker threads the cluster has (counted again every few seconds)."""
        if self._threads is None or time.monotonic() - self._threads[0] > THREADS_MAX_AGE:
            self.workers()
        assert self._threads is not None
        return self._threads[1]

    def submit(
        self,
        tasks: tuple[LayerTask, ...],
        done: Callable[[Any, tuple[LayerTask, ...]], None],
    ) -> None:
        """Send a task of one or more layers; ``done(future, tasks)`` is called (in another
        thread) when it ends, whichever way. Its results are read with :meth:`results`."""
        from leakscan.distributed.worker import scan_layers

        client = self._connect()
        key = batch_key([t.layer.digest for t in tasks])
        future = client.submit(scan_layers, tasks, key=key, retries=RETRIES, pure=False)
        self._futures.add(future)
        future.add_done_callback(lambda f: done(f, tasks))

    def results(self, future: Any, tasks: tuple[LayerTask, ...]) -> list[LayerResult]:
        """A finished task's results, one per layer (a task that failed on every attempt:
        results without a record, which the local audit reads itself)."""
        try:
            results: list[LayerResult] = future.result()
        except Exception as exc:
            why = hide_userinfo(f"{type(exc).__name__}: {exc}")[:300]
            log.warning("layer task %s failed on the cluster: %s", future.key, why)
            results = [
                LayerResult(t.layer.digest, layer_key(t.layer), None, [], problem=why)
                for t in tasks
            ]
        self._futures.discard(future)
        future.release()  # the workers and the scheduler forget it
        return results

    def cancel(self) -> None:
        """Cancel the tasks still running and release all."""
        if self._client is not None and self._futures:
            self._client.cancel([f for f in self._futures if not f.done()])
        for future in self._futures:
            future.release()
        self._futures = set()

    def close(self) -> None:
        self.cancel()
        if self._client is not None:
            self._client.close()
            self._client = None
