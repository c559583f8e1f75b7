"""Audits on a Dask cluster: uncached layers scanned by workers into the content cache, then
the local audit pipeline, which finds every layer cached (identical findings by construction)."""

from leakscan.distributed.cluster import Cluster
from leakscan.distributed.coordinator import run_distributed_audit

__all__ = ["Cluster", "run_distributed_audit"]
