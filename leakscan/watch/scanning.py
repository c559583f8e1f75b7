"""Images and containers through the one scan pipeline, one unit at a time.

An image is scanned by the image source (``docker-daemon:``, streamed from ``docker save``)
and a container by the container source's blobs, through one long-lived
:class:`~leakscan.api.Scanner`: the content it scanned and the layers it read stay known, so an
image whose layers were seen before (another tag, a rebuild on the same base) costs only its
new layers. Each unit's result passes through the same policy as ``scan`` (allow comments,
baseline), given by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from leakscan.api import ScanConfig, Scanner
from leakscan.findings import FindingSet
from leakscan.model import Blob, ScanResult, Skip, Stats
from leakscan.sources.image.config import layer_history, parse_config
from leakscan.sources.image.container import container_blobs
from leakscan.sources.image.daemon import DaemonStore
from leakscan.sources.image.interface import ImageStore
from leakscan.sources.image.source import ImageSource, RunState
from leakscan.sources.image.whiteouts import LayerIndex
from leakscan.sources.interface import Source, SourceOptions
from leakscan.store.db import StoreError
from leakscan.store.layer_cache import CachedMatch, LayerCache
from leakscan.watch.layers import layer_to_cache, restore, seeded_record

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

    def blobs(self) -> Iterator[Blob | Skip]:
        yield from container_blobs(self.attrs)


def _platform(attrs: Mapping[str, Any]) -> str:
    plat = f"{attrs.get('Os', 'linux')}/{attrs.get('Architecture', 'amd64')}"
    return plat + (f"/{attrs['Variant']}" if attrs.get("Variant") else "")


class UnitScanner:
    """Scans units for the watch; ``policy`` filters each result as ``scan`` does.

    With a ``cache`` (the layer cache), layers scanned are stored and layers found there are
    not read again (see ``leakscan.watch.layers``)."""

    def __init__(
        self,
        config: ScanConfig,
        policy: Callable[[ScanResult], ScanResult],
        policy_key: str = "",
        cache: LayerCache | None = None,
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
        self.rule_names = {r.id: r.name for r in self.scanner.detector.rules}
        self._cache_failed = False

    def _fresh(self) -> None:
        self.scanner = Scanner(self.config)
        self.run_state = RunState()
        self._known_blobs = 0
        self._restored: dict[str, list[CachedMatch]] = {}  # diff id -> its cached matches
        self._stored: set[str] = set()  # diff ids put in the cache by this process

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
        self._seed(diff_ids)
        layers = self.run_state.layers
        if (
            history is not None
            and image_id not in self.run_state.configs
            and all(d in layers and layers[d].files is not None for d in diff_ids)
        ):
            raw = config_from_inspect(attrs, history())
            if raw is not None:
                self.run_state.configs[image_id] = raw

        def store(ref: str, options: SourceOptions) -> ImageStore:
            return self._store_factory(image_id, ref)

        def restored(findings: FindingSet) -> None:
            if not any(d in self._restored for d in diff_ids):
                return
            raw = self.run_state.configs.get(image_id)
            config = parse_config(raw, f"{reference}: config") if raw is not None else {}
            states = self.run_state.layers
            digests = attrs.get("RepoDigests") or []
            fields = {
                "image": reference,
                "image_digest": str(digests[0]).split("@", 1)[1] if digests else None,
                "platform": _platform(attrs),
            }
            restore(
                findings,
                self.rule_names,
                fields,
                diff_ids,
                layer_history(config, len(diff_ids)),
                [states[d].index if d in states else LayerIndex() for d in diff_ids],
                self._restored,
            )

        source = ImageSource(reference, self.config.options, self.run_state, store)
        result = self._run(source, restored)
        self._store(diff_ids)
        return result

    def _seed(self, diff_ids: list[str]) -> None:
        """Layers this process has not read but the cache holds: not to be read."""
        if self.cache is None:
            return
        for diff_id in diff_ids:
            if diff_id in self.run_state.layers or diff_id in self._restored:
                continue
            try:
                hit = self.cache.get(diff_id, self.rules_key)
            except (StoreError, sqlite3.Error) as exc:
                self._cache_trouble(exc)
                return
            if hit is not None:
                self._restored[diff_id] = hit.matches
                self.run_state.layers[diff_id] = seeded_record(hit)

    def _store(self, diff_ids: list[str]) -> None:
        if self.cache is None:
            return
        for diff_id in diff_ids:
            record = self.run_state.layers.get(diff_id)
            if record is None or diff_id in self._restored or diff_id in self._stored:
                continue
            layer = layer_to_cache(record, self.scanner.matches_of, self.config.fingerprint_key)
            if layer is None:
                continue
            try:
                self.cache.put(diff_id, self.rules_key, None, layer)
            except StoreError as exc:
                self._cache_trouble(exc)
                return
            self._stored.add(diff_id)

    def _cache_trouble(self, exc: Exception) -> None:
        if not self._cache_failed:  # once: the watch goes on, layers are scanned again
            log.warning("layer cache: %s (layers are scanned without it)", exc)
            self._cache_failed = True

    def container(self, attrs: Mapping[str, Any], image: Mapping[str, Any] | None) -> ScanResult:
        """Scan a container's env and command, less what its image (``image``) sets."""
        return self._run(ContainerAttrsSource(inherited_removed(attrs, image)))

    def _run(
        self, source: Source, restored: Callable[[FindingSet], None] | None = None
    ) -> ScanResult:
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
        scanner.run(source)
        if restored is not None and not scanner.errors:
            restored(scanner.findings)
        result = scanner.result(time.monotonic() - started)
        self._known_blobs += result.stats.blobs
        return self.policy(result)

    def close(self) -> None:
        self.scanner.close()
