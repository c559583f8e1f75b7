"""How an audit reports its progress: one snapshot after each image (the CLI draws it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Snapshot:
    images_done: int
    images_total: int
    repository: str  # the repository being audited
    layers_cached: int  # layers not read: scanned before (this run or the content cache)
    layers_scanned: int
    bytes_scanned: int
    failed: int
    #: a distributed audit: (layers back from the cluster, layer tasks sent so far)
    cluster_layers: tuple[int, int] | None = None


class AuditProgress(Protocol):
    def start(self, total: int) -> None:
        """The tags to audit are listed: ``total`` of them."""

    def update(self, snapshot: Snapshot) -> None:
        """An image started or finished."""

    def close(self) -> None:
        """The audit ended (or stopped)."""


class NoAuditProgress:
    def start(self, total: int) -> None:
        return None

    def update(self, snapshot: Snapshot) -> None:
        return None

    def close(self) -> None:
        return None
