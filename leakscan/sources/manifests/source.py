"""The manifest-aware path source: files as text, plus one blob per key/value of interest.

:func:`structured_blobs` turns one file's blob into the structured blobs of the manifest it
is (Kubernetes, Helm values, Compose, Dockerfile, .env, JSON/YAML/TOML/INI config): each has
the value as its content, the key name as its context and a provenance that names the key
path and the key's line. Any source that has a file's bytes and path may use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from leakscan.locations import location_of
from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.content import SNIFF_BYTES, looks_binary
from leakscan.sources.filesystem import FilesystemSource
from leakscan.sources.interface import ScanContext, Source, SourceOptions
from leakscan.sources.manifests.compose import compose_pairs, is_compose
from leakscan.sources.manifests.config import ini_pairs, json_pairs, toml_pairs, tree_pairs
from leakscan.sources.manifests.detect import FORCED, detect, is_dotenv_name
from leakscan.sources.manifests.dockerfile import dockerfile_pairs
from leakscan.sources.manifests.dotenv import parse_dotenv
from leakscan.sources.manifests.kubernetes import is_k8s, k8s_pairs
from leakscan.sources.manifests.pairs import Pair, Problem, literal, utf8
from leakscan.sources.manifests.yamltree import LMap, YamlError, load_documents

log = logging.getLogger(__name__)

MAX_STRUCTURED_BYTES = 4 * 1024 * 1024  # larger files are scanned as text only


def manifest_aware_source(path: str, options: SourceOptions) -> Source:
    if options.force_kind and options.force_kind not in FORCED:
        from leakscan.sources.interface import SourceError

        raise SourceError(f"--as {options.force_kind}: must be one of {', '.join(sorted(FORCED))}")
    return ManifestSource(path, options)


class _Files(FilesystemSource):
    """The filesystem walk, except that a binary ``.env`` is reported instead of dropped."""

    def _file(self, path: Path, rel: str) -> Iterator[Blob | Skip]:
        if is_dotenv_name(path.name) and not self.options.scan_binary:
            try:
                with path.open("rb") as handle:
                    head = handle.read(SNIFF_BYTES)
            except OSError:
                head = b""
            if looks_binary(head):
                yield Skip(rel, "binary content in a .env file; not parsed")
                return
        yield from super()._file(path, rel)


class ManifestSource(Source):
    """Files and directories, with manifests also read key by key."""

    def __init__(self, target: str, options: SourceOptions) -> None:
        self.target = target
        self.name = target
        self.options = options

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        for item in _Files(self.target, self.options).blobs(ctx):
            yield item
            if isinstance(item, Blob) and item.data is not None:
                yield from structured_blobs(item, self.options.force_kind)


def structured_blobs(blob: Blob, force_kind: str | None = None) -> Iterator[Blob | Skip]:
    """The structured blobs of one file's blob (none when it is no manifest)."""
    data = blob.data
    path = str(location_of(blob.provenance).path or blob.provenance.kind)
    if data is None:
        return
    found = detect(path, data, force_kind)
    if found is None:
        return
    parser, hint = found
    if len(data) > MAX_STRUCTURED_BYTES:
        yield Skip(path, f"larger than {MAX_STRUCTURED_BYTES} bytes: scanned as text only")
        return
    if parser == "dotenv" and looks_binary(data[:SNIFF_BYTES]):
        yield Skip(path, "binary content in a .env file; not parsed")
        return
    text = data.decode("utf-8", "replace")
    document: int | None = None
    for item in _pairs(parser, hint, path, text):
        if isinstance(item, int):
            document = item
            continue
        if isinstance(item, Problem):
            where = f"{path} [{item.path}]" if item.path else path
            if document is not None:
                where += f" (document {document})"
            yield Skip(where, item.reason)
            continue
        fields = dict(blob.provenance.fields)
        fields.update({"key": _clean(item.path), "manifest": item.kind, "document": document})
        provenance = Provenance(
            blob.provenance.kind, fields, line=item.line, vendor=blob.provenance.vendor
        )
        yield Blob(provenance, data=item.value, context=_clean(item.name))


def _clean(text: str) -> str:
    """Text that encodes as UTF-8 (JSON may carry lone surrogates such as ``\\ud800``)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _pairs(parser: str, hint: str | None, path: str, text: str) -> Iterator[Pair | Problem | int]:
    if parser == "dockerfile":
        yield from dockerfile_pairs(text)
    elif parser == "dotenv":
        for a in parse_dotenv(text):
            if literal(a.value):
                yield Pair(a.name, a.name, utf8(a.value), a.line, "dotenv")
    elif parser == "json":
        yield from json_pairs(text)
    elif parser == "toml":
        yield from toml_pairs(text)
    elif parser == "ini":
        yield from ini_pairs(text)
    else:
        yield from _yaml_pairs(hint, path, text)


def _yaml_pairs(hint: str | None, path: str, text: str) -> Iterator[Pair | Problem | int]:
    """Pairs and problems of every document; an int announces the next document's number."""
    try:
        docs = load_documents(text)
    except YamlError as exc:
        if "{{" in text or "{%" in text:
            return  # a template (Helm, Jinja): scanned as text only
        yield Problem(f"{exc}; scanned as text only")
        return
    for index, doc in enumerate(docs, 1):
        if len(docs) > 1:
            yield index
        handled: set[int] = set()
        kind = "helm-values" if hint == "helm" else "yaml"
        if isinstance(doc, LMap) and (hint == "compose" or is_compose(doc)):
            yield from compose_pairs(doc, handled)
            kind = "compose"
        elif isinstance(doc, LMap) and hint != "helm" and (hint == "k8s" or is_k8s(doc)):
            yield from k8s_pairs(doc, handled)
            kind = "k8s"
        yield from tree_pairs(doc, kind, handled)


__all__ = ["ManifestSource", "manifest_aware_source", "structured_blobs"]
