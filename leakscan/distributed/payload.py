"""What travels between the coordinator and a Dask worker: one layer's task and its record.

A task names its layer by digest (a Dask task of one layer is keyed ``leakscan-layer-<digest>``,
one of several small layers ``leakscan-layers-<n>-<hash of their digests>``) and carries what
the worker needs to scan it exactly as the coordinator would: the scan configuration, the
coordinator's leakscan version, engine version, rules digest and cache key (checked by the
worker before it scans), and the registry credentials. Its ``repr`` shows the layer and the
repository only: never the credentials, the fingerprint key or the configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from leakscan.api import ScanConfig
from leakscan.sources.image.interface import LayerRef
from leakscan.sources.registry.auth import Credentials


def task_key(digest: str) -> str:
    """The Dask key of a layer's task: one task per layer, whatever shares it."""
    return f"leakscan-layer-{digest}"


def batch_key(digests: list[str]) -> str:
    """The Dask key of a task holding several layers: derived from their sorted digests (an
    audit that forms the same batch shares its scan, as with a single layer's key)."""
    if len(digests) == 1:
        return task_key(digests[0])
    joined = "\n".join(sorted(digests)).encode()
    return f"leakscan-layers-{len(digests)}-{hashlib.sha256(joined).hexdigest()[:40]}"


@dataclass(frozen=True, slots=True)
class Identity:
    """What a worker must share with the coordinator for its records to be the same."""

    version: str  # leakscan's package version
    engine: str  # the package version and a digest of the engine and sources code
    rules_digest: str
    cache_key: str  # rules, engine, options, policy: what a content cache entry is valid for


@dataclass(frozen=True, slots=True)
class LayerTask:
    identity: Identity
    config: ScanConfig = field(repr=False)  # no callbacks of the coordinator's run
    policy: str
    registry: str  # host[:port]
    insecure: bool
    timeout: float | None
    repository: str  # a repository the layer can be read from (its first image's)
    layer: LayerRef
    credentials: Credentials | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # what Dask may log: never credentials or configuration
        return f"LayerTask({self.registry}/{self.repository}@{self.layer.digest})"


@dataclass(frozen=True, slots=True)
class LayerResult:
    """A layer's content cache entries, as the worker's own cache wrote them."""

    digest: str  # the layer's blob digest
    key: str  # its content cache key (diff id, else digest)
    record: bytes | None  # the layer record (None: not cacheable; the coordinator reads it)
    contents: list[tuple[str, str]]  # (content digest, stored matches as JSON)
    bytes_scanned: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # the worker process's CPU meanwhile (the layer's read-ahead too)
    worker: str = ""
    problem: str | None = None  # why the layer has no record (read error, bomb)
    # the configuration it was scanned for: tasks are keyed by layer digest, so two audits
    # sharing a cluster at once share a layer's task; a result made for another is not used
    cache_key: str = ""
    mismatch: str | None = None  # the worker is not the coordinator's twin: a fatal error


def shippable(config: ScanConfig) -> ScanConfig:
    """A copy of a configuration for a worker to rebuild its scanner from (the run's state
    travels in the scanner's ScanContext, not here; the baseline is applied by the
    coordinator). One process per worker task: no pool of its own."""
    policy = dataclasses.replace(config.policy, baseline=None)
    return dataclasses.replace(config, policy=policy, jobs=1)
