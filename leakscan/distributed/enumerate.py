"""The coordinator's first pass: the audit's own enumeration (catalog, tags, resume state,
platforms), listing each image's layers in the order the audit will meet them."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import Future

from leakscan.api import ScanConfig
from leakscan.audit.images import AuditStore
from leakscan.audit.runner import AuditOptions, Auditor, Resolved
from leakscan.errors import LeakscanError
from leakscan.sources.image.interface import ImageStore, LayerRef
from leakscan.sources.image.oci import LAYER_TYPES
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.auth import RegistryAuth


class Stopped(Exception):
    """The coordinator stopped the listing (interrupted, or a worker mismatch)."""


#: (repository, tag, layers) of each image, in the audit's order; after a tag's images,
#: (repository, tag, None): the tag is listed (it may have no image to scan: done, failed)
Emit = Callable[[str, str, tuple[LayerRef, ...] | None], None]


class _Lister(Auditor):
    """An auditor that lists each tag's images instead of scanning them."""

    emit: Emit
    stop: threading.Event
    resolved: dict[tuple[str, str], Resolved]
    tags_listed = 0

    def audit_tag(self, repo: str, tag: str, head: Future[Resolved]) -> None:
        if self.stop.is_set():
            raise Stopped
        self.tags_listed += 1
        self.outcome.tags.append(None)  # type: ignore[arg-type]  # counted, never reported
        try:
            self._list_tag(repo, tag, head)
        finally:
            self.emit(repo, tag, None)

    def _list_tag(self, repo: str, tag: str, head: Future[Resolved]) -> None:
        try:
            resolved = head.result()
        except LeakscanError:
            return  # the audit records it as failed
        self.resolved[repo, tag] = resolved
        if resolved.manifest is None:  # done earlier with this configuration
            return
        reference = f"{self.registry}/{repo}:{tag}"
        options: SourceOptions = self.config.options
        store: ImageStore = AuditStore(
            reference, options, self.client, repo, tag, self.configs, resolved.manifest
        )
        try:
            for image in store.images(options.platform):
                self.emit(repo, tag, image.layers)
        except LeakscanError:
            return


def is_scanned(layer: LayerRef) -> bool:
    """The audit scans this layer (one of an unknown media type is listed as skipped)."""
    return not layer.media_type or layer.media_type in LAYER_TYPES


def list_images(
    opts: AuditOptions,
    config: ScanConfig,
    auth: RegistryAuth,
    emit: Emit,
    stop: threading.Event,
    configs: dict[str, bytes] | None = None,
    resolved: dict[tuple[str, str], Resolved] | None = None,
) -> tuple[str, int]:
    """Emit what the audit with these options will scan (its state is only read); return
    the registry's name and the tags listed. The image configurations read go in
    ``configs``, each tag's digest and manifest in ``resolved`` (for the local audit that
    follows: it need not read them again)."""
    opts = dataclasses.replace(opts, stop_after=None)
    # options of its own: a scanner plants its run's callbacks (known contents, the content
    # cache, progress) in them, and the local audit's scanner runs at the same time
    config = dataclasses.replace(config, options=dataclasses.replace(config.options))
    lister = _Lister(opts, config, auth)
    lister.emit, lister.stop = emit, stop
    lister.resolved = {} if resolved is None else resolved
    if configs is not None:
        lister.configs = configs
    try:
        lister.run()
    finally:
        lister.close()
        lister.state.conn.close()
    return lister.registry, lister.tags_listed
