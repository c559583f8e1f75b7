"""The coordinator's first pass: the audit's own enumeration (catalog, tags, resume state,
platforms), listing each image's layers in the order the audit will meet them."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from dataclasses import dataclass, field

from leakscan.audit.images import AuditStore
from leakscan.audit.runner import AuditOptions, Auditor, _Resolved
from leakscan.errors import LeakscanError
from leakscan.sources.image.interface import ImageStore, LayerRef
from leakscan.sources.image.oci import LAYER_TYPES
from leakscan.sources.image.source import layer_key
from leakscan.sources.interface import SourceOptions


@dataclass(slots=True)
class Planned:
    """The images an audit will scan (tags done earlier left out), in its order."""

    images: list[tuple[str, tuple[LayerRef, ...]]] = field(default_factory=list)  # repo, layers
    tags: int = 0
    registry: str = ""  # host[:port] as the audit names it

    def layers(self) -> dict[str, tuple[int, LayerRef]]:
        """Layer key -> (index of the first image that holds it, its reference there)."""
        out: dict[str, tuple[int, LayerRef]] = {}
        for n, (_, layers) in enumerate(self.images):
            for layer in layers:
                if layer.media_type and layer.media_type not in LAYER_TYPES:
                    continue  # not scanned by the audit either
                out.setdefault(layer_key(layer), (n, layer))
        return out


class _Lister(Auditor):
    """An auditor that lists each tag's images instead of scanning them."""

    planned: Planned

    def audit_tag(self, repo: str, tag: str, head: Future[_Resolved]) -> None:
        self.planned.tags += 1
        self.outcome.tags.append(None)  # type: ignore[arg-type]  # counted, never reported
        try:
            resolved = head.result()
        except LeakscanError:
            return  # the audit records it as failed
        if resolved.manifest is None:  # done earlier with this configuration
            return
        reference = f"{self.registry}/{repo}:{tag}"
        options: SourceOptions = self.config.options
        store: ImageStore = AuditStore(
            reference, options, self.client, repo, tag, self.configs, resolved.manifest
        )
        try:
            for image in store.images(options.platform):
                self.planned.images.append((repo, image.layers))
        except LeakscanError:
            return


def plan(opts: AuditOptions, lister_config: object, auth: object) -> Planned:
    """What the audit with these options will scan (its state is only read)."""
    opts = dataclasses.replace(opts, stop_after=None)
    lister = _Lister(opts, lister_config, auth)  # type: ignore[arg-type]
    lister.planned = Planned(registry=lister.registry)
    try:
        lister.run()
    finally:
        lister.close()
        lister.state.conn.close()
    return lister.planned
