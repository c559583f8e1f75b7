"""Layer tasks grouped into Dask tasks.

Dask costs ~7-10 ms of CPU per task on the scheduler and workers, and the coordinator a few
more (submit, its communication thread, a result to fetch): nothing beside a 20 MB layer's
~0.7 s scan, a third of a 1.5 MB one's. Small layers therefore travel together: a batch is
sent once it holds :data:`BATCH_BYTES` of compressed layers or :data:`BATCH_LAYERS` layers,
or earlier when a worker would otherwise idle (the coordinator decides that). A layer of
:data:`ALONE_BYTES` or more, or of unknown size, is a task of its own keyed by its digest
(Dask's cost is ~1% of its scan; alone, it spreads better over the workers).
Results stay per layer: a batch returns one result per layer, all at once.
"""

from __future__ import annotations

from leakscan.distributed.payload import LayerTask

BATCH_BYTES = 16 * 1024 * 1024  # compressed bytes of layer that fill a batch
BATCH_LAYERS = 64  # layers that fill a batch (many tiny layers)
ALONE_BYTES = 8 * 1024 * 1024  # a layer this large is a task of its own


class Batches:
    """The batch being filled, and the rule that closes it."""

    def __init__(
        self,
        max_bytes: int = BATCH_BYTES,
        max_layers: int = BATCH_LAYERS,
        alone_bytes: int = ALONE_BYTES,
    ) -> None:
        self.max_bytes, self.max_layers, self.alone_bytes = max_bytes, max_layers, alone_bytes
        self.pending: list[LayerTask] = []
        self.bytes = 0

    def add(self, task: LayerTask) -> list[tuple[LayerTask, ...]]:
        """Take a layer's task; return the batches now ready to send (a large layer alone,
        the pending batch once full)."""
        size = task.layer.size
        if size is None or size >= self.alone_bytes:
            return [(task,)]
        self.pending.append(task)
        self.bytes += size
        if self.bytes >= self.max_bytes or len(self.pending) >= self.max_layers:
            return [self.take()]
        return []

    def take(self) -> tuple[LayerTask, ...]:
        """The pending batch (empty when there is none), which starts a new one."""
        batch = tuple(self.pending)
        self.pending, self.bytes = [], 0
        return batch
