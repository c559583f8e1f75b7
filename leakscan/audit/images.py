"""The registry store an audit hands the image source: one per tag, sharing the registry's
connection and the configurations read, and noting the images each tag resolves to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from leakscan.sources.image.interface import ResolvedImage
from leakscan.sources.image.registry import ImageName, RegistryStore
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.client import Manifest, RegistryClient


class _Ahead:
    """The audit's client, answering one tag's manifest from what was fetched ahead."""

    def __init__(self, client: RegistryClient, repo: str, tag: str, manifest: Manifest) -> None:
        self._client, self._key, self._manifest = client, (repo, tag), manifest
        self.host = client.host

    def manifest(self, repo: str, ref: str) -> Manifest:
        if (repo, ref) == self._key:
            return self._manifest
        return self._client.manifest(repo, ref)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class AuditStore(RegistryStore):
    """``registry/repo:tag`` through the audit's client (not closed with the store)."""

    def __init__(
        self,
        reference: str,
        options: SourceOptions,
        client: RegistryClient,
        repo: str,
        tag: str,
        configs: dict[str, bytes],
        manifest: Manifest | None = None,
    ) -> None:
        # the tag's manifest, fetched ahead by the audit: not asked again
        ahead = _Ahead(client, repo, tag, manifest) if manifest is not None else client
        super().__init__(reference, options, client=cast(RegistryClient, ahead))
        # the audit knows the parts: a registry host without a dot or port stays a host
        self.image = ImageName(client.host, repo, tag)
        self.name = str(self.image)
        self._configs = configs  # shared: tags of one image read its configuration once
        self.resolved: list[dict[str, Any]] = []

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        for image in super().images(platform):
            self.resolved.append(
                {
                    "digest": image.manifest_digest,
                    "platform": image.platform,
                    "layers": [layer.digest for layer in image.layers],
                    "sizes": [layer.size for layer in image.layers],
                }
            )
            yield image

    def close(self) -> None:
        """The client is the audit's: kept open for the next tag."""
