"""What every source is: something that turns a target into a stream of blobs.

A source yields :class:`~leakscan.model.Blob` values (content plus provenance) and
:class:`~leakscan.model.Skip` values (what it could not read, and why). A blob's ``stream``
must be read by the consumer before it asks the source for the next item. A source raises
:class:`SourceError` when the target cannot be scanned at all (missing, unreachable,
corrupt beyond use); items already yielded stay valid.

What a run knows while it scans (the contents already scanned, the progress display, the
content cache, the policy) reaches a source in the :class:`ScanContext` given to
:meth:`Source.blobs`; :class:`SourceOptions` holds only the user's settings and limits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

# defined in leakscan.errors: importable without the imports below (git's early walk)
from leakscan.errors import SourceError as SourceError
from leakscan.model import Blob, Match, Skip, Stats
from leakscan.policy.policy import Policy
from leakscan.progress import NoProgress, Progress


@dataclass(slots=True)
class SourceOptions:
    """Options and limits shared by all sources."""

    exclude: tuple[str, ...] = ()  # glob patterns of paths not to scan
    scan_binary: bool = False  # scan files that look binary
    max_file_bytes: int = 256 * 1024 * 1024  # larger files are skipped and reported
    in_memory_bytes: int = 8 * 1024 * 1024  # larger files are passed as streams
    archive_depth: int = 3  # nested archives (zip, jar, tar.gz...) opened to this depth
    archive_bytes: int = 512 * 1024 * 1024  # total bytes read out of one nested archive
    max_ratio: int = 200  # decompression ratio above which a member is a bomb
    max_layer_bytes: int = 64 * 1024**3  # images: a layer inflating beyond this is a bomb
    platform: str | None = None  # images: os/arch[/variant]; None = all platforms
    force_kind: str | None = None  # manifests: k8s, compose, dockerfile, dotenv, helm (--as)
    registry_timeout: float | None = None  # registries: seconds per read (None: 30)


class ScanHere(Protocol):
    """The run's detector, for a source that reads content in a process it forked (git):
    that process scans part of what it reads and sends matches instead of bytes (a
    :class:`~leakscan.model.Blob` with ``matches``)."""

    def scan(
        self, data: bytes, context: str | None, lines: frozenset[int] | None
    ) -> tuple[Match, ...]:
        """The matches on ``lines`` (1-based; None: all), before the policy (the scanner
        applies allow comments where it records the blob)."""

    def start_counting(self) -> None:
        """In the forked process: count the detector's cut-offs from zero."""

    def counts(self) -> object:
        """In the forked process: what was counted since (picklable), for :meth:`add_counts`."""

    def add_counts(self, counts: object) -> None:
        """In the scanner's process: add a forked process's counts to the run's."""


def _nothing_known(digest: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class ScanContext:
    """One run's state as a source sees it (made by the scanner; ``ScanContext()`` for a
    source read on its own: nothing known, no progress shown, no cache)."""

    # content keys already scanned in this run (or an earlier one, through a cache): a source
    # may yield Blob(digest=...) without bytes for them
    known: Callable[[str], bool] = _nothing_known
    # content keys known to hold nothing (scanned, no matches): a source may leave their blobs
    # out; the run counts each one asked about as content reused
    clean: Callable[[str], bool] = _nothing_known
    progress: Progress = field(default_factory=NoProgress)
    # images: layers scanned by earlier runs (a LayerStore of leakscan.sources.image.records;
    # the scanner's content cache, when it has one)
    layer_store: Any = None
    options: SourceOptions = field(default_factory=SourceOptions)  # the run's limits
    policy: Policy = field(default_factory=Policy)
    # the detector, for a source that scans in a process it forked (None: scan nothing there)
    scan: ScanHere | None = None


class Source(ABC):
    """A target turned into blobs."""

    #: a short human name of the target, used in skips and errors
    name: str = ""
    #: the source draws its own progress bars (images: per layer); others get a bar of the
    #: bytes scanned
    reports_progress: bool = False
    #: worker processes pay even on a 2-core machine: the main process is kept busy reading
    #: (inflating and hashing image layers) while the workers scan
    workers_pay: bool = False

    @abstractmethod
    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        """Yield the target's blobs and skips (``ctx``: what the run knows)."""

    def stats_into(self, stats: Stats) -> None:  # noqa: B027 - optional hook
        """Add the source's own counters (image layers scanned, reused) to a run's stats."""
