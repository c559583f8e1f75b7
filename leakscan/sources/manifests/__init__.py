"""Manifests read key by key: Kubernetes, Helm values, Compose, Dockerfiles, .env and
JSON/YAML/TOML/INI config files (see :mod:`.source`)."""

from __future__ import annotations

from leakscan.sources.manifests.source import (
    ManifestSource,
    manifest_aware_source,
    structured_blobs,
)

__all__ = ["ManifestSource", "manifest_aware_source", "structured_blobs"]
