"""Images and containers through the one scan pipeline, one unit at a time.

An image is scanned by the image source (``docker-daemon:``, streamed from ``docker save``)
and a container by the container source's blobs, through one long-lived
:class:`~leakscan.api.Scanner`: the content it scanned and the layers it read stay known, so an
image whose layers were seen before (another tag, a rebuild on the same base) costs only its
new layers. With a content cache (``leakscan.store.content_cache``, the one ``scan image`` and
``audit`` use) that holds across runs and commands: a layer any of them scanned is not read
again. Each unit's result passes through the same policy as ``scan`` (allow comments,
baseline), given by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from leakscan.api import ScanConfig, Scanner
from leakscan.findings import FindingSet
from leakscan.model import Blob, ScanResult, Skip, Stats
from leakscan.sources.image.container import container_blobs
from leakscan.sources.image.daemon import DaemonStore
from leakscan.sources.image.interface import ImageStore
from leakscan.sources.image.source import ImageSource, RunState
from leakscan.sources.interface import ScanContext, Source, SourceOptions
from leakscan.store.content_cache import ContentCache

log = logging.getLogger(__name__)

#: unique contents kept known between units before the watch starts afresh (memory bound)
MAX_KNOWN_BLOBS = 500_000


def inherited_removed(
    container: Mapping[str, Any], image: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A container's inspect data without what it inherits from its image unchanged (scanned
    with the image): the env entries and labels its image sets, and Cmd/Entrypoint when they
    are the image's."""
    attrs = dict(container)
    config = dict(attrs.get("Config") or {})
    image_config = (image or {}).get("Config") or {}
    image_env = set(map(str, image_config.get("Env") or []))
    config["Env"] = [e for e in config.get("Env") or [] if str(e) not in image_env]
    for key in ("Cmd", "Entrypoint"):
        if config.get(key) and config.get(key) == image_config.get(key):
            config[key] = None
    image_labels = image_config.get("Labels") or {}
    config["Labels"] = {
        k: v for k, v in (config.get("Labels") or {}).items() if image_labels.get(k) != v
    }
    attrs["Config"] = config
    return attrs


def config_from_inspect(
    attrs: Mapping[str, Any], history: list[Mapping[str, Any]] | None
) -> bytes | None:
    """An image's configuration as far as a scan reads it (``config``: Env, Labels, Cmd,
    Entrypoint, User; each history line and which made a layer), from the daemon's inspect
    data and ``docker history``; ``None`` when the history does not determine it.

    ``docker history`` gives a layer's size, 0 for a line that made no layer; a line that made
    an empty layer also says 0, so the lines are only trusted when the sizes name exactly as
    many layers as the image has.
    """
    if not history:
        return None
    diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
    lines = list(reversed(history))  # oldest first, as a configuration lists them
    if sum(1 for h in lines if (h.get("Size") or 0) > 0) != len(diff_ids):
        return None
    doc = {
        "architecture": attrs.get("Architecture"),
        "os": attrs.get("Os"),
        "config": attrs.get("Config") or {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created_by": str(h.get("CreatedBy") or "")}
            | ({} if (h.get("Size") or 0) > 0 else {"empty_layer": True})
            for h in lines
        ],
    }
    return json.dumps(doc).encode()


class ContainerAttrsSource(Source):
    """The blobs of a container's inspect data (as ``scan container`` reads them)."""

    def __init__(self, attrs: Mapping[str, Any]) -> None:
        self.attrs = attrs
        self.name = str(attrs.get("Name") or attrs.get("Id") or "container").lstrip("/")

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        yield from container_blobs(self.attrs)


class UnitScanner:
    """Scans units for the watch; ``policy`` filters each result as ``scan`` does.

    With a ``cache`` (the content cache), layers scanned are stored and layers found there are
    not read again: their files are placed in the image and get their stored matches."""

    def __init__(
        self,
        config: ScanConfig,
        policy: Callable[[ScanResult], ScanResult],
        policy_key: str = "",
        cache: ContentCache | None = None,
        store_factory: Callable[[str, str], ImageStore] | None = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self.cache = cache
        self._store_factory = store_factory or (lambda image_id, ref: DaemonStore(image_id, ref))
        self._fresh()
        key = config.fingerprint_key
        self.rules_key = (
            self.scanner.detector.digest
            + (":" + hashlib.sha256(key).hexdigest()[:16] if key else "")
            + (":" + policy_key if policy_key else "")
        )

    def _fresh(self) -> None:
        self.scanner = Scanner(self.config, cache=self.cache)
        self.run_state = RunState(store=self.cache)
        self._known_blobs = 0

    def _known(self, diff_id: str) -> bool:
        """Whether a layer needs no reading: read whole, by this process or (the content
        cache) an earlier run, and every file's matches at hand."""
        record = self.run_state.layer(diff_id)
        return (
            record is not None
            and record.files is not None
            and all(self.scanner.knows(f.digest) for f in record.files)
        )

    def image(
        self,
        attrs: Mapping[str, Any],
        name: str,
        history: Callable[[], list[Mapping[str, Any]] | None] | None = None,
    ) -> ScanResult:
        """Scan a daemon image (its inspect data), its locations named ``docker-daemon:name``.

        When no layer needs reading (all seen: a rebuild that changed only its configuration,
        an image on cached layers), the configuration comes from ``history()`` and the inspect
        data instead of a ``docker save`` of the whole image."""
        image_id = str(attrs.get("Id"))
        diff_ids = [str(d) for d in (attrs.get("RootFS") or {}).get("Layers") or []]
        reference = f"docker-daemon:{name}"
        if (
            history is not None
            and image_id not in self.run_state.configs
            and all(self._known(d) for d in diff_ids)
        ):
            raw = config_from_inspect(attrs, history())
            if raw is not None:
                self.run_state.configs[image_id] = raw

        def store(ref: str, options: SourceOptions) -> ImageStore:
            return self._store_factory(image_id, ref)

        source = ImageSource(reference, self.config.options, self.run_state, store)
        return self._run(source)

    def container(self, attrs: Mapping[str, Any], image: Mapping[str, Any] | None) -> ScanResult:
        """Scan a container's env and command, less what its image (``image``) sets."""
        return self._run(ContainerAttrsSource(inherited_removed(attrs, image)))

    def _run(self, source: Source) -> ScanResult:
        if self._known_blobs > MAX_KNOWN_BLOBS:
            log.info(
                "%d contents known from earlier units: starting afresh (memory bound)",
                self._known_blobs,
            )
            self.scanner.close()
            self._fresh()
        started = time.monotonic()
        scanner = self.scanner  # one result per unit; the content cache is kept
        scanner.findings = FindingSet(scanner.detector.rules, self.config.fingerprint_key)
        scanner.skipped = []
        scanner.errors = []
        scanner.stats = Stats()
        state = self.run_state
        before = (state.layers_scanned, state.layers_reused)
        scanner.run(source)
        result = scanner.result(time.monotonic() - started)
        if isinstance(source, ImageSource):  # its counts are the run's: this unit's part
            result.stats.layers_scanned -= before[0]
            result.stats.layers_reused -= before[1]
        self._known_blobs += result.stats.blobs
        return self.policy(result)

    def close(self) -> None:
        self.scanner.close()
