"""Layer tasks grouped into Dask tasks.

Dask costs ~7-10 ms of CPU per task on the scheduler and workers, and the coordinator a few
more (submit, its communication thread, a result to fetch): ~1% of a 20 MB layer's ~0.7 s
scan, a third of a small one's. Small layers therefore travel together: a batch is closed
once its layers weigh :data:`BATCH_BYTES` (each its compressed size plus
:data:`PER_LAYER_BYTES`, the fetch, opening and record every layer costs whatever its size,
so a batch is ~0.3 s of a worker's time), or earlier when a worker thread would otherwise
idle (the coordinator decides that, and when a closed batch is sent). A layer of
:data:`BATCH_BYTES` or more, or of unknown size, is a task of its own keyed by its digest.
Results stay per layer: a batch returns one result per layer, all at once.
Small batches keep the local pass, which waits for each tag's layers, close behind the
workers, and the last tasks of an audit short.
"""

from __future__ import annotations

from leakscan.distributed.payload import LayerTask

BATCH_BYTES = 8 * 1024 * 1024  # the weight that fills a batch; a layer this large goes alone
PER_LAYER_BYTES = 512 * 1024  # a layer's own cost beside its bytes, as compressed bytes


class Batches:
    """The batch being filled, and the rule that closes it."""

    def __init__(self, max_bytes: int = BATCH_BYTES, per_layer: int = PER_LAYER_BYTES) -> None:
        self.max_bytes, self.per_layer = max_bytes, per_layer
        self.pending: list[LayerTask] = []
        self.weight = 0

    def add(self, task: LayerTask) -> tuple[LayerTask, ...] | None:
        """Take a layer's task; return a batch now ready to send (a large layer alone, or
        the pending batch once full)."""
        size = task.layer.size
        if size is None or size >= self.max_bytes:
            return (task,)
        self.pending.append(task)
        self.weight += size + self.per_layer
        return self.take() if self.weight >= self.max_bytes else None

    def take(self) -> tuple[LayerTask, ...]:
        """The pending batch (empty when there is none), which starts a new one."""
        batch = tuple(self.pending)
        self.pending, self.weight = [], 0
        return batch
