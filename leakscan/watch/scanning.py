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
from leakscan.sources.interface import Source, SourceOptions

log = logging.getLogger(__name__)

#: unique contents kept known between units before the watch starts afresh (memory bound)
MAX_KNOWN_BLOBS = 500_000


def inherited_removed(
    container: Mapping[str, Any], image: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A container's inspect data without what it inherits from its image unchanged: the env
    entries its image sets (scanned with the image), and Cmd/Entrypoint when they are the
    image's."""
    attrs = dict(container)
    config = dict(attrs.get("Config") or {})
    image_config = (image or {}).get("Config") or {}
    image_env = set(map(str, image_config.get("Env") or []))
    config["Env"] = [e for e in config.get("Env") or [] if str(e) not in image_env]
    for key in ("Cmd", "Entrypoint"):
        if config.get(key) and config.get(key) == image_config.get(key):
            config[key] = None
    attrs["Config"] = config
    return attrs


class ContainerAttrsSource(Source):
    """The blobs of a container's inspect data (as ``scan container`` reads them)."""

    def __init__(self, attrs: Mapping[str, Any]) -> None:
        self.attrs = attrs
        self.name = str(attrs.get("Name") or attrs.get("Id") or "container").lstrip("/")

    def blobs(self) -> Iterator[Blob | Skip]:
        yield from container_blobs(self.attrs)


class UnitScanner:
    """Scans units for the watch; ``policy`` filters each result as ``scan`` does."""

    def __init__(
        self,
        config: ScanConfig,
        policy: Callable[[ScanResult], ScanResult],
        policy_key: str = "",
        store_factory: Callable[[str, str], ImageStore] | None = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self._store_factory = store_factory or (lambda image_id, ref: DaemonStore(image_id, ref))
        self._fresh()
        key = config.fingerprint_key
        self.rules_key = (
            self.scanner.detector.digest
            + (":" + hashlib.sha256(key).hexdigest()[:16] if key else "")
            + (":" + policy_key if policy_key else "")
        )

    def _fresh(self) -> None:
        self.scanner = Scanner(self.config)
        self.run_state = RunState()
        self._known_blobs = 0

    def image(self, image_id: str, name: str) -> ScanResult:
        """Scan a daemon image (``image_id``), its locations named ``docker-daemon:name``."""

        def store(ref: str, options: SourceOptions) -> ImageStore:
            return self._store_factory(image_id, ref)

        source = ImageSource(f"docker-daemon:{name}", self.config.options, self.run_state, store)
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
            self._fresh()
        started = time.monotonic()
        scanner = self.scanner  # one result per unit; the content cache is kept
        scanner.findings = FindingSet(scanner.detector.rules, self.config.fingerprint_key)
        scanner.skipped = []
        scanner.errors = []
        scanner.stats = Stats()
        scanner.run(source)
        result = scanner.result(time.monotonic() - started)
        self._known_blobs += result.stats.blobs
        return self.policy(result)

    def close(self) -> None:
        self.scanner.close()
