"""Layers kept between runs: a layer scanned once is not read again, by this watch or the next.

A scanned layer goes into the layer cache (``leakscan.store.layer_cache``, in the watch's state
file) as its entries (enough to rebuild its whiteout index) and its matches (fingerprint,
redacted value, path, line: never the secret). A later image with that layer gets the layer's
record from the cache, so the image source neither indexes nor scans it, and its matches
become findings placed in that image (whiteout state and build step included).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from leakscan.engine.redact import redact
from leakscan.findings import FindingSet, fingerprint, value_digests
from leakscan.model import Finding, Location, Match, Provenance
from leakscan.sources.image.layer import DIR, FILE, OPAQUE, WHITEOUT
from leakscan.sources.image.source import LayerRecord
from leakscan.sources.image.whiteouts import LayerIndex, file_state
from leakscan.store.layer_cache import CachedLayer, CachedMatch


def index_of(entries: Sequence[tuple[str, str, str | None]]) -> LayerIndex:
    index = LayerIndex()
    for path, kind, _ in entries:
        index.add(path, kind)
    return index


def entries_of(index: LayerIndex) -> list[tuple[str, str, str | None]]:
    """The entries that rebuild ``index`` (kinds as the layer reader names them)."""
    out: list[tuple[str, str, str | None]] = []
    out += [(p, FILE if p in index.nondirs else DIR, None) for p in sorted(index.entries)]
    out += [(p, WHITEOUT, None) for p in sorted(index.whiteouts)]
    out += [(p, OPAQUE, None) for p in sorted(index.opaques)]
    return out


def seeded_record(layer: CachedLayer) -> LayerRecord:
    """A record that tells the image source the layer is done: indexed, nothing to read."""
    return LayerRecord(index=index_of(layer.entries), files=[], skips=list(layer.skipped))


def layer_to_cache(
    record: LayerRecord,
    matches_of: Callable[[str], list[Match] | None],
    key: bytes | None,
) -> CachedLayer | None:
    """A layer scanned whole in this run, as the cache keeps it; ``None`` if it was not
    (a file streamed, a bomb, a file whose matches this run does not hold)."""
    if record.files is None or record.bomb is not None:
        return None
    matches: list[CachedMatch] = []
    for f in record.files:
        found = matches_of(f.digest)
        if found is None:
            return None
        for m in found:
            matches.append(
                CachedMatch(
                    f.path,
                    m.rule_id,
                    fingerprint(m.rule_id, m.secret, key),
                    m.preview or redact(m.secret),
                    m.line,
                    m.column,
                    m.severity,
                    m.confidence,
                    m.decoded,
                    *value_digests(m.secret, key),
                )
            )
    return CachedLayer(entries_of(record.index), matches, list(record.skips))


def restore(
    findings: FindingSet,
    rule_names: Mapping[str, str],
    fields: Mapping[str, Any],
    diff_ids: Sequence[str],
    history: Sequence[str | None],
    indexes: Sequence[LayerIndex],
    cached: Mapping[str, Sequence[CachedMatch]],
) -> None:
    """Add the cached matches of an image's layers to ``findings``, placed in the image
    (``fields``: image, image_digest, platform) as the image source places its own."""
    for i, diff_id in enumerate(diff_ids):
        for m in cached.get(diff_id, ()):
            state = file_state(m.path.split("!", 1)[0], i, indexes)
            prov = Provenance(
                "image-layer",
                {
                    **fields,
                    "layer_digest": diff_id,
                    "layer_index": i,
                    "created_by": history[i] if i < len(history) else None,
                    "path": m.path,
                    "state": state.state,
                    "deleted_in_layer": state.deleted_in_layer,
                    "overwritten_in_layer": state.overwritten_in_layer,
                },
            )
            findings.add_cached(
                Finding(
                    m.fingerprint,
                    m.rule_id,
                    rule_names.get(m.rule_id, m.rule_id),
                    m.severity,
                    m.confidence,
                    m.redacted,
                    None,
                    [Location(prov, m.line, m.column, m.decoded)],
                    secret_digest=m.secret_digest,
                    encoded_digest=m.encoded_digest,
                )
            )
