"""scan(sources, config) -> ScanResult: wires sources → engine → findings.

Content is scanned once: every blob's matches are kept by content key (its digest and key
name), and a blob met again (the same file in two layers, a layer shared by two images, a
git blob on two branches) only adds its location.

The run's :class:`~leakscan.policy.Policy` (in :class:`ScanConfig`) is applied by the
scanner: inline allow comments as blobs are scanned, then ``--min-confidence``, the allow
comments of files re-read from disk and the baseline on the result. What the run knows
reaches each source in a :class:`~leakscan.sources.interface.ScanContext`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from leakscan.engine.build import DetectorSettings
from leakscan.engine.build import load_detector as build_detector
from leakscan.engine.detector import CAPPED_REGIONS, MAX_HITS_PER_RULE, MAX_REGIONS, Detector
from leakscan.engine.redact import redact
from leakscan.errors import LeakscanError
from leakscan.findings import FindingSet, fingerprint, value_digests
from leakscan.locations import location_of
from leakscan.model import Blob, Match, ScanResult, Skip, Stats
from leakscan.parallel import START_AFTER_BYTES, STREAM_BYTES, BatchScanner, default_jobs
from leakscan.policy.policy import InlineAllows, Policy
from leakscan.policy.policy import apply as apply_policy
from leakscan.progress import NoProgress, Progress
from leakscan.sources.content import Tap
from leakscan.sources.interface import ScanContext, Source, SourceOptions
from leakscan.userinfo import hide_userinfo

if TYPE_CHECKING:  # sqlite3 is imported only by runs that keep a content cache
    from leakscan.store.content_cache import ContentCache

log = logging.getLogger(__name__)

__all__ = ["ScanConfig", "Scanner", "load_detector", "scan"]


@dataclass(slots=True)
class ScanConfig:
    rule_paths: tuple[Path, ...] = ()
    include_builtin: bool = True
    enable: tuple[str, ...] = ()  # rule ids or globs; empty = all
    disable: tuple[str, ...] = ()
    fingerprint_key: bytes | None = None
    decode_depth: int = 2
    regex_timeout: float = 1.0  # seconds per precise regex attempt (--regex-timeout)
    max_hits_per_rule: int = MAX_HITS_PER_RULE  # per blob (--max-hits-per-rule)
    max_decoded_regions: int = MAX_REGIONS  # per blob (--max-decoded-regions)
    jobs: int = 0  # worker processes for large scans; 0 = one per core (up to 4), 1 = none
    options: SourceOptions = field(default_factory=SourceOptions)
    policy: Policy = field(default_factory=Policy)  # what is reported (the CLI's flags)


@functools.cache
def engine_version() -> str:
    """The package version and a digest of the code that decides what a scan finds (the
    engine and the sources): a content cache made by other code is not trusted."""
    from leakscan import __version__

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for sub in ("engine", "sources", "findings.py", "api.py"):
        target = root / sub
        for path in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def cache_key(config: ScanConfig, policy: str = "") -> str:
    """What a content cache entry is valid for: the rules (their digest), the engine version,
    the options that change what is found in a file, and ``policy`` (e.g. which allow
    comments count)."""
    options = config.options
    fkey = config.fingerprint_key
    settings = detector_settings(config)
    parts = {
        "rules": load_detector(config).digest,
        "engine": engine_version(),
        "detector": [
            repr(getattr(settings, f.name))
            for f in dataclasses.fields(settings)
            if f.name != "rule_paths"
        ],
        "exclude": list(options.exclude),
        "scan_binary": options.scan_binary,
        "limits": [
            options.max_file_bytes,
            options.archive_depth,
            options.archive_bytes,
            options.max_ratio,
            options.max_layer_bytes,
        ],
        "fingerprint_key": hashlib.sha256(fkey).hexdigest() if fkey else None,
        "policy": policy,
    }
    return "ck1:" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def detector_settings(config: ScanConfig) -> DetectorSettings:
    """The parts of a configuration that make its detector (its identity in the cache, and
    what a worker process rebuilds it from)."""
    return DetectorSettings(
        rule_paths=tuple(config.rule_paths),
        include_builtin=config.include_builtin,
        enable=tuple(config.enable),
        disable=tuple(config.disable),
        decode_depth=config.decode_depth,
        regex_timeout=config.regex_timeout,
        max_hits_per_rule=config.max_hits_per_rule,
        max_decoded_regions=config.max_decoded_regions,
    )


def load_detector(config: ScanConfig) -> Detector:
    """The detector for a configuration's rules (compiled once per process)."""
    return build_detector(detector_settings(config))


class Scanner:
    """One scan run: a detector, a content cache and the findings so far."""

    def __init__(
        self,
        config: ScanConfig,
        progress: Progress | None = None,
        cache: ContentCache | None = None,
    ) -> None:
        self.config = config
        self.detector = load_detector(config)
        self.findings = FindingSet(self.detector.rules, config.fingerprint_key)
        # contents scanned in earlier runs (image layers' files): matches without secrets
        self.cache = cache
        self._persist: set[tuple[str, str | None]] = set()  # keys to store once scanned
        self.skipped: list[Skip] = []
        self.errors: list[str] = []
        self.stats = Stats()
        self.progress = progress or NoProgress()
        self._cache: dict[tuple[str, str | None], list[Match]] = {}
        policy = config.policy
        # inline allow comments, looked for while a blob's bytes are at hand
        self.allows = InlineAllows(policy.foreign_allow) if policy.inline_allows else None
        self._batcher: BatchScanner | None = None
        self.context = ScanContext(
            known=self.knows,
            clean=self.clean,
            progress=self.progress,
            layer_store=cache,
            options=config.options,
            policy=policy,
            # a source's forked reader scans too (git), unless worker processes do
            scan=_ScanHere(self.detector),
        )
        # workers started by default for one source that pays for them (an image) end with
        # it: a later source (git, a folder) runs as the defaults say for it
        self._source_workers = False
        self._start_workers(config.jobs or default_jobs())
        self._serial_bytes = 0  # scanned before the pool starts
        # key -> (the text allow comments are looked for in (None: a stream's, not looked
        # for), the blob's own lines) while its batch is scanned
        self._pending: dict[tuple[str, str | None], tuple[bytes | None, frozenset[int] | None]] = {}
        self._queue: deque[tuple[Blob, tuple[str, str | None] | None]] = deque()

    def _start_workers(self, jobs: int) -> None:
        """Worker processes for large scans (none for ``jobs`` <= 1); the pool itself starts
        once enough has been scanned serially. A source's forked reader then scans nothing."""
        if jobs > 1 and self._batcher is None:
            self._batcher = BatchScanner(self.detector, jobs, detector_settings(self.config))
            self.context = dataclasses.replace(self.context, scan=None)

    def knows(self, digest: str) -> bool:
        return (
            (digest, None) in self._cache
            or (digest, None) in self._pending
            or (self.cache is not None and self.cache.known(digest))
        )

    def clean(self, digest: str) -> bool:
        """Content scanned (in this run, or in an earlier one through the cache) that holds
        no match: counted as reused, as :meth:`scan_blob` counts a blob of it."""
        key = (digest, None)
        if key in self._pending:  # in a worker's batch: its matches are not known yet
            return False
        matches = self._cache.get(key)
        if matches is None:
            if self.cache is None or self.cache.matches(digest) != []:
                return False
        elif matches:
            return False
        self.stats.cached_blobs += 1
        return True

    def _store(self, key: tuple[str, str | None], matches: list[Match]) -> None:
        """Keep a layer file's matches in the content cache (fingerprints, never secrets)."""
        assert self.cache is not None
        if not matches:  # most files
            self.cache.save(key[0], [])
            return
        from leakscan.store.content_cache import StoredMatch

        fkey = self.config.fingerprint_key
        self.cache.save(
            key[0],
            [
                StoredMatch(
                    m.rule_id,
                    fingerprint(m.rule_id, m.secret, fkey),
                    redact(m.secret),
                    m.line,
                    m.column,
                    m.severity,
                    m.confidence,
                    m.decoded,
                    *value_digests(m.secret, fkey),
                )
                for m in matches
            ],
        )

    def _persistent(self, blob: Blob, key: tuple[str, str | None] | None) -> bool:
        """Whether a blob's matches go to the content cache: a layer file's whole content."""
        return (
            self.cache is not None
            and key is not None
            and key[1] is None
            and blob.lines is None
            and blob.provenance.kind == "image-layer"
        )

    def _restore(self, blob: Blob, key: tuple[str, str | None] | None) -> bool:
        """Place the cached matches of content scanned in an earlier run (False: none)."""
        if self.cache is None or key is None or key[1] is not None:
            return False
        stored = self.cache.matches(key[0])
        if stored is None:
            return False
        self.stats.cached_blobs += 1
        for m in stored:
            self.findings.add_stored(
                m.fingerprint,
                m.rule_id,
                m.severity,
                m.confidence,
                m.redacted,
                (m.secret_digest, m.encoded_digest),
                m.line,
                m.column,
                m.decoded,
                blob.provenance,
            )
        return True

    def matches_of(self, digest: str) -> list[Match] | None:
        """The matches of content scanned in this run, by digest (``None``: not scanned)."""
        return self._cache.get((digest, None))

    def scan_blob(self, blob: Blob) -> list[Match]:
        """Matches of one blob (from the cache when its content was seen), recorded."""
        key = _content_key(blob)
        matches = self._cache.get(key) if key is not None else None
        if matches is not None:
            self.stats.cached_blobs += 1
        elif blob.data is not None:
            matches = _own(self.detector.scan(blob.data, blob.context), blob.lines)
            if self.allows is not None:
                text = blob.text if blob.text is not None else blob.data
                matches = self.allows(text, matches)
            self.stats.blobs += 1
            self.stats.bytes += len(blob.data)
        elif blob.matches is not None:  # scanned where the source read it (_ScanHere)
            matches = list(blob.matches)
            if self.allows is not None and matches:
                matches = self.allows(blob.text or b"", matches)
            self.stats.blobs += 1
            self.stats.bytes += blob.size or 0
        elif blob.stream is not None:
            counter = _ByteCounter()
            # an image layer's file: its digest taken as it is read, its matches kept by it
            # (the layer can then be reused without reading it again)
            hashing = Tap(blob.stream) if blob.provenance.kind == "image-layer" else None
            stream = cast(IO[bytes], hashing) if hashing is not None else blob.stream
            matches = self.detector.scan_stream(stream, blob.context, counter)
            self.stats.blobs += 1
            self.stats.bytes += counter.total
            if key is None and hashing is not None and hashing.ended:
                key = (hashing.digest(), blob.context)
        elif self._restore(blob, key):  # content scanned in an earlier run
            return []
        elif key is not None:  # only a digest, of content this run never saw
            self.skipped.append(Skip(_where(blob), "content not available to scan"))
            return []
        else:
            return []
        if key is not None:
            self._cache[key] = matches
            if self._persistent(blob, key):
                self._store(key, matches)
        for match in matches:
            self.findings.add(match, blob.provenance)
        return matches

    def run(self, source: Source) -> None:
        """Scan every blob of a source; a source error is recorded and the run goes on."""
        if self._batcher is None and not self.config.jobs and source.workers_pay:
            self._start_workers(default_jobs(workers_pay=True))
            self._source_workers = self._batcher is not None
        if self._batcher is not None and source.workers_pay:
            self._batcher.prestart()  # before the source starts its reading threads
        # sources that draw their own bars (images: per layer) say so; others get a bar of
        # bytes scanned
        own_progress = source.reports_progress
        if not own_progress:
            self.progress.task(f"scan {source.name}"[:60], None, "B")
        try:
            for item in source.blobs(self.context):
                if isinstance(item, Skip):
                    self.skipped.append(item)
                    if item.error:  # that part failed alone; the source goes on
                        self.errors.append(f"{item.where}: {item.reason}")
                    continue
                if self._parallel():
                    self._enqueue(item)
                else:
                    self.scan_blob(item)
                    if item.data is not None:
                        self._serial_bytes += len(item.data)
                if not own_progress and item.data is not None:
                    self.progress.advance(len(item.data))
                elif not own_progress and item.matches is not None:
                    self.progress.advance(item.size or 0)
        except LeakscanError as exc:
            self.errors.append(hide_userinfo(str(exc)))
            log.debug("source %s failed", source.name, exc_info=True)
        except Exception as exc:  # a bug or an input nobody foresaw: keep what was found
            self.errors.append(
                hide_userinfo(f"{source.name}: unexpected {type(exc).__name__}: {exc}")
            )
            log.debug("source %s failed unexpectedly", source.name, exc_info=True)
        finally:
            self._drain()
            if self._source_workers:
                self._end_workers()
            if self.cache is not None:  # contents first, then the layers they fill
                self.cache.flush()
            if not own_progress:
                self.progress.done()
        source.stats_into(self.stats)  # sources with their own counters (image layers)

    # -- parallel scanning: in-memory blobs go to worker processes in batches; their
    # -- locations are still recorded in the order the source gave them
    def _parallel(self) -> bool:
        return self._batcher is not None and (
            self._serial_bytes >= START_AFTER_BYTES or bool(self._queue) or self._batcher.started
        )

    def _enqueue(self, blob: Blob) -> None:
        assert self._batcher is not None
        key = _content_key(blob)
        data, windowed = blob.data, False
        if key is None and _to_worker(blob):  # read here, scanned in a worker as a stream
            assert blob.stream is not None
            hashing = Tap(blob.stream)
            data = b"".join(iter(lambda: hashing.read(STREAM_BYTES), b""))
            key, windowed = (hashing.digest(), blob.context), True
        if key is not None and (key in self._cache or key in self._pending):
            self.stats.cached_blobs += 1
        elif key is not None and data is not None:
            # a stream's, as scan_blob: no allow comments looked for, all its lines its own
            text = None if windowed else (blob.text if blob.text is not None else data)
            self._pending[key] = (text, None if windowed else blob.lines)
            if self._persistent(blob, key):
                self._persist.add(key)
            self._batcher.submit(key, data, blob.context, windowed=windowed)
            self.stats.blobs += 1
            self.stats.bytes += len(data)
        else:
            key = None  # a stream, or unknown content: scan_blob handles (and reports) it
        if key is None:
            self._flush(wait=True)  # keep the order: earlier blobs are recorded first
            self.scan_blob(blob)
            return
        self._queue.append((blob, key))
        self._complete(self._batcher.ready(block=True))
        self._flush()

    def _complete(self, results: list[tuple[object, list[Match]]]) -> None:
        for token, matches in results:
            key = token  # the content key the batch item was submitted with
            text, lines = self._pending.pop(key)  # type: ignore[call-overload]
            matches = _own(matches, lines)
            if self.allows is not None and text is not None:
                matches = self.allows(text, matches)
            self._cache[key] = matches  # type: ignore[index]
            if key in self._persist:
                self._persist.discard(key)
                self._store(key, matches)

    def _flush(self, wait: bool = False) -> None:
        while self._queue:
            blob, key = self._queue[0]
            if key not in self._cache:
                if not wait or self._batcher is None:
                    return
                self._complete(self._batcher.drain())
                if key not in self._cache:  # cannot happen; never spin on it
                    log.warning("a scanned batch came back without this blob's result")
                    self._cache[key] = []  # type: ignore[index]
                continue
            self._queue.popleft()
            for match in self._cache[key]:
                self.findings.add(match, blob.provenance)

    def _drain(self) -> None:
        if self._batcher is not None and (self._queue or self._pending):
            self._complete(self._batcher.drain())
            self._flush(wait=True)

    def _end_workers(self) -> None:
        """Close the workers of the source just scanned; the main process scans again (and a
        source's forked reader may)."""
        assert self._batcher is not None
        self._take_worker_counters()
        self._batcher.close()
        self._batcher = None
        self._source_workers = False
        self.context = dataclasses.replace(self.context, scan=_ScanHere(self.detector))

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()

    def _take_worker_counters(self) -> None:
        """The workers' detector counters (regex cut-offs, checksum failures, caps) into the
        run's."""
        if self._batcher is not None:
            self.detector.timeouts += self._batcher.timeouts
            self._batcher.timeouts = 0
            self.detector.checksum_failures.update(self._batcher.checksum_failures)
            self._batcher.checksum_failures.clear()
            self.detector.capped.update(self._batcher.capped)
            self._batcher.capped.clear()

    def result(self, seconds: float) -> ScanResult:
        self.stats.seconds = seconds
        self._take_worker_counters()
        self.skipped.extend(_capped_skips(self.detector))
        if self.detector.timeouts:
            self.skipped.append(
                Skip("engine", f"{self.detector.timeouts} region(s) cut off by the regex timeout")
            )
        for rule_id, count in sorted(self.detector.checksum_failures.items()):
            self.skipped.append(
                Skip(
                    "engine",
                    f"{count} token(s) shaped like {rule_id} not reported: checksum invalid, "
                    "likely test values",
                )
            )
        self.detector.checksum_failures.clear()
        findings = self.findings.findings(self.config.policy.min_confidence)
        self.stats.below_min_confidence = self.findings.below_floor
        found_rules = {f.rule_id for f in findings}
        result = ScanResult(
            findings=findings,
            skipped=self.skipped,
            stats=self.stats,
            errors=self.errors,
            rules_digest=self.detector.digest,
            rule_references={
                r.id: r.references for r in self.detector.rules if r.id in found_rules
            },
        )
        return apply_policy(result, self.config.policy, self.allows)


def _capped_skips(detector: Detector) -> list[Skip]:
    """What the detector's per-blob caps left unexamined, with the flag that raises each."""
    out = []
    for key, count in sorted(detector.capped.items()):
        if key == CAPPED_REGIONS:
            out.append(
                Skip(
                    "engine",
                    f"{count} decoded region(s) over the cap of {detector.max_regions} per blob "
                    "not examined (raise it with --max-decoded-regions)",
                )
            )
        else:
            out.append(
                Skip(
                    "engine",
                    f"{count} hit(s) of {key} over the cap of {detector.max_hits} per blob not "
                    "examined (raise it with --max-hits-per-rule)",
                )
            )
    detector.capped.clear()
    return out


class _ScanHere:
    """The run's detector as a source's forked reader uses it (``ScanContext.scan``): the
    matches it sends are those :meth:`Scanner.scan_blob` would find in the bytes."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def scan(
        self, data: bytes, context: str | None, lines: frozenset[int] | None
    ) -> tuple[Match, ...]:
        return tuple(_own(self.detector.scan(data, context), lines))

    def start_counting(self) -> None:
        detector = self.detector
        detector.timeouts = 0
        detector.checksum_failures.clear()
        detector.capped.clear()

    def counts(self) -> object:
        detector = self.detector
        return (detector.timeouts, dict(detector.checksum_failures), dict(detector.capped))

    def add_counts(self, counts: object) -> None:
        timeouts, failures, capped = cast(tuple[int, dict[str, int], dict[str, int]], counts)
        self.detector.timeouts += timeouts
        self.detector.checksum_failures.update(failures)
        self.detector.capped.update(capped)


class _ByteCounter:
    def __init__(self) -> None:
        self.total = 0

    def __call__(self, n: int) -> None:
        self.total += n


def _own(matches: list[Match], lines: frozenset[int] | None) -> list[Match]:
    """The matches on a blob's own lines (all of them when it does not say)."""
    return matches if lines is None else [m for m in matches if m.line in lines]


def _to_worker(blob: Blob) -> bool:
    """An image layer's file streamed, small enough to be scanned by a worker: it is read
    (and hashed, as :meth:`Scanner.scan_blob` hashes it) into memory first."""
    return (
        blob.stream is not None
        and blob.size is not None
        and blob.size <= STREAM_BYTES
        and blob.provenance.kind == "image-layer"
    )


def _content_key(blob: Blob) -> tuple[str, str | None] | None:
    """What a blob's matches are cached by: its content digest (computed for bytes in memory)
    and key name; ``None`` for a stream whose digest the source did not give."""
    digest = blob.digest
    if digest is None and blob.data is not None:
        digest = "sha256:" + hashlib.sha256(blob.data).hexdigest()
    return (digest, blob.context) if digest is not None else None


def _where(blob: Blob) -> str:
    where = location_of(blob.provenance)
    return str(where.path or where.field or blob.provenance.kind)


def scan(
    sources: Iterable[Source] | Callable[[SourceOptions], Iterable[Source]],
    config: ScanConfig | None = None,
    progress: Progress | None = None,
    cache: ContentCache | None = None,
) -> ScanResult:
    """Scan sources (or a factory that makes them from the run's source options)."""
    config = config or ScanConfig()
    started = time.monotonic()
    scanner = Scanner(config, progress, cache)
    if callable(sources):
        sources = sources(config.options)
    try:
        for source in sources:
            scanner.run(source)
    except LeakscanError as exc:
        scanner.errors.append(str(exc))
    except KeyboardInterrupt:  # Ctrl-C: what was found so far is still reported
        scanner.errors.append("interrupted: the scan did not complete")
    finally:
        scanner.close()
    return scanner.result(time.monotonic() - started)
