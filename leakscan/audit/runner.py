"""The audit loop: repositories → tags → images → layers, each layer scanned once ever.

A layer found in the layer cache (same layer digest, same rules) is not downloaded: its
entries and matches come from the cache. A (repo, tag, digest) done in the audit state is not
even fetched: its images are rebuilt from the state and the cache. Layer blobs are downloaded
by a few threads into bounded memory while the main thread scans. An image that fails is
recorded and the audit goes on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from leakscan.api import ScanConfig, Scanner
from leakscan.audit.layers import ScannedLayer, scan_layer
from leakscan.engine.redact import redact
from leakscan.errors import LeakscanError
from leakscan.findings import fingerprint, value_digests
from leakscan.model import Finding, Location, Match, Provenance, ScanResult, Skip, Stats
from leakscan.sources.image.config import config_blobs, layer_history, parse_config
from leakscan.sources.image.interface import ImageError, LayerRef
from leakscan.sources.image.registry import MAX_CONFIG_BYTES, _layers, image_manifests
from leakscan.sources.image.whiteouts import LayerIndex, file_state
from leakscan.sources.registry.auth import RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from leakscan.store.audit_state import AuditState, DoneImage
from leakscan.store.db import StoreError, connect
from leakscan.store.layer_cache import CachedLayer, CachedMatch, LayerCache

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AuditOptions:
    registry: str
    state: Path
    repos: tuple[str, ...] = ()  # globs; empty = every repository
    tags: str = "all"  # all | latest | a glob
    platform: str | None = None
    rescan: bool = False
    insecure: bool = False
    timeout: float | None = None  # seconds per registry read (LEAKSCAN_REGISTRY_TIMEOUT)
    page_size: int | None = None
    workers: int = 4
    prefetch_bytes: int = 256 * 1024 * 1024  # layer bytes held in memory ahead of the scan
    stop_after: int | None = None  # test hook: stop (as if interrupted) after N images


@dataclass(slots=True)
class AuditStats(Stats):
    images: int = 0
    images_scanned: int = 0
    images_from_state: int = 0
    images_failed: int = 0
    repositories: int = 0
    repositories_failed: int = 0  # whose tag list could not be read
    bytes_downloaded: int = 0
    bytes_skipped: int = 0


@dataclass(slots=True)
class AuditResult:
    result: ScanResult
    per_repo: dict[str, dict[str, int]] = field(default_factory=dict)
    interrupted: bool = False


class _Stop(Exception):
    pass


def _tag_selected(tag: str, tags: str) -> bool:
    if tags == "all":
        return True
    return fnmatchcase(tag, tags)


class _Auditor:
    def __init__(self, opts: AuditOptions, config: ScanConfig, auth: RegistryAuth | None) -> None:
        self.opts = opts
        self.config = config
        self.scanner = Scanner(config)
        self.stats = AuditStats()
        self.scanner.stats = self.stats
        self.detector = self.scanner.detector
        key = config.fingerprint_key
        self.rules_key = self.detector.digest + (
            ":" + hashlib.sha256(key).hexdigest()[:16] if key else ""
        )
        self.rule_names = {r.id: r.name for r in self.detector.rules}
        self.client = RegistryClient(
            opts.registry, auth, insecure=opts.insecure, timeout=opts.timeout
        )
        self.registry = self.client.host
        conn = connect(opts.state)
        self.cache = LayerCache(conn)
        self.state = AuditState(conn)
        self.seen: dict[str, list[tuple[str, Match]]] = {}
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, opts.workers), thread_name_prefix="leakscan-blob"
        )
        self.per_repo: dict[str, dict[str, int]] = {}
        self._hits: dict[str, CachedLayer] = {}  # layer digest -> cache hit, this run
        self._indexes: dict[str, LayerIndex] = {}  # layer digest -> its whiteout index
        self.processed = 0
        self.unsaved: str | None = None  # why the current tag's layers could not be cached
        self.layer_failed = False  # a layer of the current tag failed (it is audited again)

    # -- enumeration -----------------------------------------------------------------------

    def repositories(self) -> list[str]:
        repos = list(self.client.catalog(self.opts.page_size))
        if self.opts.repos:
            repos = [r for r in repos if any(fnmatchcase(r, g) for g in self.opts.repos)]
        return sorted(set(repos))

    def run(self) -> None:
        for repo in self.repositories():
            self.stats.repositories += 1
            counts = self.per_repo.setdefault(repo, {"images": 0, "failed": 0})
            try:
                tags = sorted(set(self.client.tags(repo, self.opts.page_size)))
            except LeakscanError as exc:
                self.scanner.errors.append(f"{repo}: {exc}")
                counts["failed"] += 1
                self.stats.repositories_failed += 1
                continue
            if self.opts.tags == "latest":
                tags = [t for t in tags if t == "latest"]
            else:
                tags = [t for t in tags if _tag_selected(t, self.opts.tags)]
            # the tags' digests are asked for ahead, a few at a time (HEAD: no body)
            # the first one alone, so that a token challenge for the repository is met once
            heads = [self.pool.submit(self.client.head_manifest, repo, tag) for tag in tags[:1]]
            wait(heads)
            heads += [self.pool.submit(self.client.head_manifest, repo, tag) for tag in tags[1:]]
            for tag, head in zip(tags, heads, strict=True):
                counts["images"] += 1
                self.stats.images += 1
                try:
                    self.audit_tag(repo, tag, head)
                except LeakscanError as exc:
                    self.stats.images_failed += 1
                    counts["failed"] += 1
                    self.scanner.errors.append(f"{self.registry}/{repo}:{tag}: {exc}")
                    log.debug("image %s:%s failed", repo, tag, exc_info=True)

    # -- one tag ---------------------------------------------------------------------------

    def audit_tag(self, repo: str, tag: str, head: Future[str | None] | None = None) -> None:
        digest = head.result() if head is not None else self.client.head_manifest(repo, tag)
        ref = digest or tag
        if digest is None:  # a registry that does not tell: the body's digest
            digest = self.client.manifest(repo, tag).digest
        if not self.opts.rescan:
            done = self.state.done(self.registry, repo, tag, digest, self.rules_key)
            if done is not None:
                for image in done:
                    self.replay(repo, tag, image)
                self.stats.images_from_state += 1
                return
        images: list[DoneImage] = []
        self.unsaved = None
        self.layer_failed = False
        for platform, manifest, doc in image_manifests(self.client, repo, ref, self.opts.platform):
            images.append(self.audit_image(repo, tag, platform, manifest.digest, doc))
        try:  # a full disk: the findings are reported; the tag is scanned again next time
            if self.layer_failed:  # reported already; not marked done: audited again next time
                raise _NotDone
            if self.unsaved is not None:
                raise StoreError(self.unsaved)
            self.state.mark_done(self.registry, repo, tag, digest, self.rules_key, images)
        except StoreError as exc:
            self.scanner.errors.append(
                f"{self._name(repo, tag)}: findings reported but not saved in the state ({exc})"
            )
        except _NotDone:  # counted as failed; its other layers' findings are reported
            self.stats.images_failed += 1
            self.per_repo.setdefault(repo, {"images": 0, "failed": 0})["failed"] += 1
        if not self.layer_failed:
            self.stats.images_scanned += 1
        self.processed += 1
        if self.opts.stop_after is not None and self.processed >= self.opts.stop_after:
            raise _Stop

    def _name(self, repo: str, tag: str) -> str:
        return f"{self.registry}/{repo}:{tag}"

    def audit_image(
        self, repo: str, tag: str, platform: str | None, image_digest: str, doc: dict[str, Any]
    ) -> DoneImage:
        name = self._name(repo, tag)
        layers = _layers(doc, f"{name}@{image_digest}")
        config_digest = str((doc.get("config") or {}).get("digest", ""))
        raw = io.BufferedReader(self.client.blob(repo, config_digest))
        data = raw.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise LeakscanError(f"{name}: image configuration too large")
        raw.read()
        cfg = parse_config(data, name)
        history = layer_history(cfg, len(layers))
        config_matches: list[dict[str, Any]] = []
        annotations = doc.get("annotations") or {}
        for blob in config_blobs(cfg, name, image_digest, annotations):
            blob = _with(blob.provenance, repo, tag, platform, blob)
            for m in self.scanner.scan_blob(blob):
                config_matches.append(
                    {
                        "field": blob.provenance.fields.get("field"),
                        "rule_id": m.rule_id,
                        "fingerprint": fingerprint(
                            m.rule_id, m.secret, self.config.fingerprint_key
                        ),
                        "redacted": redact(m.secret),
                        "line": m.line,
                        "column": m.column,
                        "severity": m.severity,
                        "confidence": m.confidence,
                        **dict(
                            zip(
                                ("secret_digest", "encoded_digest"),
                                value_digests(m.secret, self.config.fingerprint_key),
                                strict=True,
                            )
                        ),
                    }
                )
        cached: dict[int, CachedLayer] = {}
        fresh: dict[int, ScannedLayer] = {}
        todo = []
        for i, layer in enumerate(layers):
            hit = self._cached(layer.digest)
            if hit is not None:
                cached[i] = hit
            else:
                todo.append((i, layer))
        for i, layer, blob in self._downloads(repo, todo):
            where = f"{name} layer {i}"
            try:
                scanned = scan_layer(blob, where, self.detector, self.config.options, self.seen)
            except ImageError as exc:  # this layer fails alone: the others are still audited
                reason = str(exc).removeprefix(f"{where}: ")
                self.scanner.errors.append(f"{where} ({layer.digest}): {reason}")
                self.scanner.skipped.append(Skip(f"{where} ({layer.digest})", reason))
                self.layer_failed = True
                continue
            fresh[i] = scanned
            self.stats.blobs += scanned.files
            self.stats.bytes += scanned.bytes
            self.stats.layers_scanned += 1
            self.stats.bytes_downloaded += layer.size or 0
            try:
                self.cache.put(
                    layer.digest,
                    self.rules_key,
                    layer.size,
                    CachedLayer(
                        scanned.entries,
                        [
                            CachedMatch(
                                p,
                                m.rule_id,
                                fingerprint(m.rule_id, m.secret, self.config.fingerprint_key),
                                redact(m.secret),
                                m.line,
                                m.column,
                                m.severity,
                                m.confidence,
                                m.decoded,
                                *value_digests(m.secret, self.config.fingerprint_key),
                            )
                            for p, m in scanned.matches
                        ],
                        [(s.where, s.reason) for s in scanned.skipped],
                    ),
                )
            except StoreError as exc:  # keep scanning: the findings are still reported
                self.unsaved = str(exc)
            self.scanner.skipped.extend(scanned.skipped)
        for i in cached:
            self.stats.layers_reused += 1
            self.stats.bytes_skipped += layers[i].size or 0
        layer_rows = [
            {"digest": ref.digest, "size": ref.size, "created_by": history[i]}
            for i, ref in enumerate(layers)
        ]
        self._emit(repo, tag, platform, image_digest, layer_rows, cached, fresh)
        return DoneImage(image_digest, platform, layer_rows, config_matches)

    def _downloads(
        self, repo: str, todo: list[tuple[int, LayerRef]]
    ) -> Iterator[tuple[int, LayerRef, Any]]:
        """Layer blobs in order; small ones fetched ahead by threads, within a byte budget."""
        budget = self.opts.prefetch_bytes
        queue: list[tuple[int, LayerRef, Future[bytes] | None]] = []
        held = 0
        pending = list(todo)

        def fill() -> None:
            nonlocal held
            while pending:
                i, layer = pending[0]
                size = layer.size or budget + 1
                if size > budget:  # too big to hold: streamed by the main thread
                    queue.append((i, layer, None))
                    pending.pop(0)
                    continue
                if held + size > budget and queue:
                    return
                pending.pop(0)
                held += size
                queue.append((i, layer, self.pool.submit(self._fetch, repo, layer)))

        fill()
        try:
            while queue:
                i, layer, future = queue.pop(0)
                if future is None:
                    try:
                        raw = self.client.blob(repo, layer.digest, layer.size)
                    except ImageError as exc:  # that layer fails alone (in scan_layer)
                        yield i, layer, _Failing(exc)
                        continue
                    with io.BufferedReader(raw, buffer_size=1 << 20) as stream:
                        yield i, layer, stream
                        try:
                            while stream.read(1 << 20):  # the digest is checked at the end
                                pass
                        except ImageError as exc:
                            self.scanner.errors.append(f"{repo} layer {i}: {exc}")
                            self.layer_failed = True
                else:
                    error: ImageError | None = None
                    try:
                        data = future.result()
                    except ImageError as exc:  # that layer fails alone (in scan_layer)
                        data, error = b"", exc
                    held -= layer.size or 0
                    fill()
                    yield i, layer, (_Failing(error) if error else io.BytesIO(data))
        finally:
            for _, _, f in queue:
                if f is not None:
                    f.cancel()

    def _fetch(self, repo: str, layer: LayerRef) -> bytes:
        with io.BufferedReader(
            self.client.blob(repo, layer.digest, layer.size), buffer_size=1 << 20
        ) as stream:
            return stream.read()

    # -- findings --------------------------------------------------------------------------

    def _prov(
        self,
        repo: str,
        tag: str,
        platform: str | None,
        image_digest: str,
        layers: list[dict[str, Any]],
        i: int,
        path: str,
        index: list[LayerIndex],
    ) -> Provenance:
        # a member of an archive ("app.jar!x/y") shares the fate of the archive file
        state = file_state(path.split("!", 1)[0], i, index)
        return Provenance(
            "image-layer",
            {
                "image": self._name(repo, tag),
                "registry": self.registry,
                "repository": repo,
                "tag": tag,
                "image_digest": image_digest,
                "platform": platform,
                "layer_digest": layers[i]["digest"],
                "layer_index": i,
                "created_by": layers[i].get("created_by"),
                "path": path,
                "state": state.state,
                "deleted_in_layer": state.deleted_in_layer,
                "overwritten_in_layer": state.overwritten_in_layer,
            },
        )

    def _emit(
        self,
        repo: str,
        tag: str,
        platform: str | None,
        image_digest: str,
        layers: list[dict[str, Any]],
        cached: dict[int, CachedLayer],
        fresh: dict[int, ScannedLayer],
    ) -> None:
        if not any(hit.matches for hit in cached.values()) and not any(
            scanned.matches for scanned in fresh.values()
        ):
            return  # nothing to place: the whiteout indexes are not needed
        index = [LayerIndex() for _ in layers]
        for i, layer in list(cached.items()) + list(fresh.items()):
            index[i] = self._index(layers[i]["digest"], layer.entries)
        for i, scanned in fresh.items():
            for path, match in scanned.matches:
                prov = self._prov(repo, tag, platform, image_digest, layers, i, path, index)
                self.scanner.findings.add(match, prov)
        for i, hit in cached.items():
            for m in hit.matches:
                prov = self._prov(repo, tag, platform, image_digest, layers, i, m.path, index)
                self._add_cached(
                    m.fingerprint,
                    m.rule_id,
                    m.redacted,
                    m.severity,
                    m.confidence,
                    Location(prov, m.line, m.column, m.decoded),
                    (m.secret_digest, m.encoded_digest),
                )

    def _cached(self, digest: str) -> CachedLayer | None:
        """The layer cache's entry for a layer, read once per run (layers are shared)."""
        hit = self._hits.get(digest)
        if hit is None:
            hit = self.cache.get(digest, self.rules_key)
            if hit is not None:
                self._hits[digest] = hit
        return hit

    def _index(self, digest: str, entries: list[tuple[str, str, str | None]]) -> LayerIndex:
        """A layer's whiteout index, built once per run per layer digest (read-only after)."""
        index = self._indexes.get(digest)
        if index is None:
            index = LayerIndex()
            for path, kind, _ in entries:
                index.add(path, kind)
            self._indexes[digest] = index
        return index

    def _add_cached(
        self,
        fp: str,
        rule_id: str,
        redacted: str,
        severity: str,
        confidence: str,
        location: Location,
        digests: tuple[str | None, str | None] = (None, None),
    ) -> None:
        self.scanner.findings.add_cached(
            Finding(
                fp,
                rule_id,
                self.rule_names.get(rule_id, rule_id),
                severity,
                confidence,
                redacted,
                None,
                [location],
                secret_digest=digests[0],
                encoded_digest=digests[1],
            )
        )

    def replay(self, repo: str, tag: str, image: DoneImage) -> None:
        """An image done earlier: findings rebuilt from the state and the layer cache."""
        cached: dict[int, CachedLayer] = {}
        for i, layer in enumerate(image.layers):
            hit = self._cached(layer["digest"])
            if hit is None:  # the cache lost it: report nothing wrong, just what we can
                self.scanner.skipped.append(
                    Skip(
                        f"{self._name(repo, tag)} layer {i}",
                        "layer missing from the cache; use --rescan",
                    )
                )
                continue
            cached[i] = hit
            self.stats.layers_reused += 1
            self.stats.bytes_skipped += layer.get("size") or 0
        self._emit(repo, tag, image.platform, image.image_digest, image.layers, cached, {})
        for m in image.config_matches:
            prov = Provenance(
                "image-config",
                {
                    "image": self._name(repo, tag),
                    "registry": self.registry,
                    "repository": repo,
                    "tag": tag,
                    "image_digest": image.image_digest,
                    "platform": image.platform,
                    "field": m.get("field"),
                },
            )
            self._add_cached(
                m["fingerprint"],
                m["rule_id"],
                m["redacted"],
                m["severity"],
                m["confidence"],
                Location(prov, m.get("line"), m.get("column")),
                (m.get("secret_digest"), m.get("encoded_digest")),
            )

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _with(prov: Provenance, repo: str, tag: str, platform: str | None, blob: Any) -> Any:
    from dataclasses import replace

    fields = dict(prov.fields)
    fields.update(repository=repo, tag=tag, platform=platform)
    return replace(blob, provenance=Provenance(prov.kind, fields, prov.line, prov.vendor))


class _NotDone(Exception):
    """The tag is not marked done (a layer failed; it is audited again next time)."""


class _Failing(io.RawIOBase):
    """A layer whose download failed: reading it raises that error."""

    def __init__(self, error: ImageError) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self.error


def run_audit(
    opts: AuditOptions, config: ScanConfig, auth: RegistryAuth | None = None
) -> AuditResult:
    """Audit a registry. Per-image errors are in ``result.errors``; Ctrl-C stops cleanly."""
    started = time.monotonic()
    if opts.stop_after is None and os.environ.get("LEAKSCAN_AUDIT_STOP_AFTER"):
        opts.stop_after = int(os.environ["LEAKSCAN_AUDIT_STOP_AFTER"])
    auditor = _Auditor(opts, config, auth)
    interrupted = False
    try:
        auditor.run()
    except (KeyboardInterrupt, _Stop):
        interrupted = True
        auditor.scanner.errors.append("audit interrupted; run the same command again to resume")
    except LeakscanError as exc:
        auditor.scanner.errors.append(str(exc))
    finally:
        auditor.close()
    result = auditor.scanner.result(time.monotonic() - started)
    return AuditResult(result, auditor.per_repo, interrupted)
