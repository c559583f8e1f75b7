"""Images as blobs: every file of every layer with its whiteout state, and the configuration.

Two passes over the layers of an image (both streamed, nothing written to disk):

1. an *index* pass reads tar headers (and the small package-database files) of every layer
   not seen before in this run, to learn what later layers delete or replace and which files
   the package managers vouch for;
2. a *content* pass reads each layer once more and hands out each file with its final state
   (``present``, ``deleted`` in layer M, ``overwritten`` in layer M), the instruction that made
   the layer and whether it is an unmodified vendor file.

A local archive or layout is simply opened twice. Where reading a layer again costs a
transfer (a registry download, the docker daemon's ``image.save()``), each layer is kept in
memory, as read, between the passes while the image's layers fit in ``spool_bytes`` (256 MB
by default); the layers beyond that bound are read a second time, and counted. A layer
already scanned in this run (the same layer in another image or another reference of the same
image) is not read again: its files are handed out by content digest and the scanner
re-attaches their matches.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from leakscan.model import Blob, Provenance, Skip, Stats
from leakscan.sources.filesystem import excluded, file_blobs, read_upto
from leakscan.sources.image import records
from leakscan.sources.image.config import config_blobs, layer_history, parse_config
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage
from leakscan.sources.image.layer import FILE, BombError, Entry, iter_layer
from leakscan.sources.image.oci import LAYER_TYPES
from leakscan.sources.image.records import FileRecord, LayerRecord, LayerStore
from leakscan.sources.image.vendor import PackageDb, wanted_db
from leakscan.sources.image.whiteouts import FileState, LayerIndex, file_state
from leakscan.sources.interface import ScanContext, Source, SourceOptions

log = logging.getLogger(__name__)

#: yields (locate, stream): locate() gives the layer's index (for the daemon's streamed save,
#: only once the whole save has been read in the first pass)
LayerStreams = Iterator[tuple[Callable[[], int], IO[bytes]]]


@dataclass(slots=True)
class RunState:
    """Shared by the image sources of one run: layers and configurations already read."""

    layers: dict[str, LayerRecord] = field(default_factory=dict)
    configs: dict[str, bytes] = field(default_factory=dict)  # config digest -> its JSON
    layers_scanned: int = 0
    layers_reused: int = 0
    layers_downloaded: int = 0  # remote layer blobs fetched (a layer fetched twice counts 2)
    bytes_downloaded: int = 0  # their sizes as the manifests declare them
    layers_refetched: int = 0  # layers read a second time (over the spool bound)
    # layers scanned in earlier runs (the content cache): records read from it, and put in it
    store: LayerStore | None = None
    stored: set[str] = field(default_factory=set)  # layer keys in the store (read or put)
    own_keys: int = 0  # keys made for layers that stand alone (see ``own_key``)

    def layer(self, key: str) -> LayerRecord | None:
        """The record of a layer read in this run, else from the store (``None``: unread)."""
        record = self.layers.get(key)
        if record is None and self.store is not None:
            data = self.store.get_layer(key)
            record = records.decode(data) if data is not None else None
            if record is not None:
                self.layers[key] = record
                self.stored.add(key)
        return record

    def own_key(self, key: str) -> str:
        """A key no other layer has: for a layer that must not stand in for its declared one."""
        self.own_keys += 1
        return f"{key}#{self.own_keys}"

    def keep(self, key: str, record: LayerRecord) -> None:
        """Put a layer read whole in the store (once)."""
        if self.store is not None and key not in self.stored and records.cacheable(record):
            self.store.put_layer(key, records.encode(record))
            self.stored.add(key)


def open_layers(
    store: ImageStore,
    image: ResolvedImage,
    wanted: Sequence[int],
    located: bool = False,
) -> LayerStreams:
    """Streams of the wanted layers (through the store's own sequential reader if it has one).

    ``located``: each layer's index is needed before its stream is read."""
    if store.sequential:
        yield from store.layer_streams(image, wanted, located=located)
        return
    for i in wanted:
        yield (lambda i=i: i), _open(store, image, i)  # type: ignore[misc]


def _open(store: ImageStore, image: ResolvedImage, i: int) -> IO[bytes]:
    """The layer's stream; one that cannot be opened reads as its error (that layer fails)."""
    try:
        return store.open_layer(image, i)
    except ImageError as exc:
        return cast(IO[bytes], _Broken(exc))


class _Broken(io.RawIOBase):
    """A layer stream that could not be opened or read: reading it raises the error."""

    def __init__(self, error: ImageError) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise self.error


#: layer bytes of one image kept in memory between the two passes (registries, the daemon)
SPOOL_BYTES = 256 * 1024 * 1024


class _Spool:
    """The layers of one image read once and served to both passes, when reading a layer again
    costs a transfer (a registry download, a ``docker save``).

    Layers are kept in memory, as read, while they fit in the budget; the second pass reads
    the others again (one more download each, or one more save for all of them), and counts
    them."""

    def __init__(
        self, store: ImageStore, image: ResolvedImage, budget: int, state: RunState
    ) -> None:
        self.store, self.image, self.state = store, image, state
        self.left = budget
        self.kept: list[tuple[Callable[[], int], bytes]] = []

    def _streams(
        self, wanted: Sequence[int], located: bool
    ) -> Iterator[tuple[Callable[[], int], IO[bytes], int | None]]:
        """(locate, stream, announced size); a daemon's layer is located only once read."""
        if self.store.remote:
            for i in wanted:
                self.state.layers_downloaded += 1
                layer = self.image.layers[i]
                self.state.bytes_downloaded += layer.size or 0
                yield (lambda i=i: i), _open(self.store, self.image, i), layer.size  # type: ignore[misc]
        else:
            for locate, stream in open_layers(self.store, self.image, wanted, located=located):
                yield locate, stream, None

    def first(self, wanted: Sequence[int]) -> LayerStreams:
        """Pass 1: read each layer, keeping it while the budget lasts."""
        for locate, stream, size in self._streams(wanted, located=False):
            if self.left <= 0 or (size is not None and size > self.left):
                yield locate, stream
                continue
            try:
                expected = size if size is not None else 1 << 24  # read(n) reserves n bytes
                data = b"".join(read_upto(stream, self.left + 1, expected))
            except ImageError as exc:  # this layer fails alone
                stream.close()
                yield locate, cast(IO[bytes], _Broken(exc))
                continue
            if len(data) > self.left:  # larger than announced: go on streaming, not kept
                self.left = 0
                yield locate, cast(IO[bytes], _Chain(data, stream))
                continue
            try:
                stream.read()  # at the end: the store has checked the digest
            except ImageError as exc:
                yield locate, cast(IO[bytes], _Broken(exc))
                continue
            finally:
                stream.close()
            self.kept.append((locate, data))
            self.left -= len(data)
            yield locate, io.BytesIO(data)

    def second(self, wanted: Sequence[int]) -> LayerStreams:
        """Pass 2: from memory (released as it goes), the rest read again."""
        kept = {locate(): data for locate, data in self.kept}
        self.kept = []
        again = [i for i in wanted if i not in kept]
        for i in wanted:
            data = kept.pop(i, None)
            if data is not None:
                yield (lambda i=i: i), io.BytesIO(data)  # type: ignore[misc]
        if again:
            self.state.layers_refetched += len(again)
            log.info(
                "%s: %d layer(s) over the %d-byte spool bound, read again",
                self.image.reference,
                len(again),
                SPOOL_BYTES,
            )
            for locate, stream, _ in self._streams(again, located=True):
                yield locate, stream


class _Chain(io.RawIOBase):
    """``head`` then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._tail.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._tail.close()
        super().close()


def layer_key(layer: LayerRef) -> str:
    return layer.diff_id or layer.digest


def _checks(layers: Sequence[LayerRef], at: int | None, wanted: Sequence[int]) -> bool:
    """Whether the uncompressed bytes of layer ``at`` (``None``: one of ``wanted``) are hashed
    against its diff_id: where the store's own digest check is not that."""
    places = wanted if at is None else [at]
    return any(layers[i].diff_id and layers[i].diff_id != layers[i].digest for i in places)


class ImageSource(Source):
    """One image reference (all its platforms, or the chosen one)."""

    reports_progress = True  # a bar per image pass, counted in layers

    def __init__(
        self,
        reference: str,
        options: SourceOptions,
        state: RunState | None = None,
        store_factory: Callable[[str, SourceOptions], ImageStore] | None = None,
        spool_bytes: int | None = None,
    ) -> None:
        self.reference = reference
        self.name = reference
        self.options = options
        self.state = state or RunState()
        self.run = ScanContext()  # the run's context (blobs() is given it)
        self._factory = store_factory
        self.spool_bytes = SPOOL_BYTES if spool_bytes is None else spool_bytes

    def stats_into(self, stats: Stats) -> None:
        stats.layers_scanned = self.state.layers_scanned
        stats.layers_reused = self.state.layers_reused

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        self.run = ctx
        if self.state.store is None:  # the scanner's content cache, when it has one
            self.state.store = ctx.layer_store
        if self._factory is None:
            from leakscan.sources.image.reference import open_store

            self._factory = open_store
        store = self._factory(self.reference, self.options)
        try:
            for image in store.images(self.options.platform):
                yield from self._image(store, image)
        finally:
            store.close()

    # -- one image ---------------------------------------------------------------------------

    def _image(self, store: ImageStore, image: ResolvedImage) -> Iterator[Blob | Skip]:
        keys = [layer_key(layer) for layer in image.layers]
        layers = image.layers
        # layers of unknown type are not read: each stands for itself, never for a diff_id
        unknown = {
            i
            for i, layer in enumerate(layers)
            if layer.media_type and layer.media_type not in LAYER_TYPES
        }
        for i in sorted(unknown):
            yield Skip(
                f"{image.reference} layer {i + 1} ({layers[i].digest})",
                f"unknown layer media type {layers[i].media_type[:100]}",
            )
            keys[i] = self.state.own_key(keys[i])
            self.state.layers[keys[i]] = LayerRecord(files=[])
        # a diff_id declared twice is not taken on trust: every layer declaring it is read and
        # checked; those whose content matches are then one layer, the others stand alone
        counts = Counter(keys)
        doubted = {i for i, layer in enumerate(layers) if layer.diff_id and counts[keys[i]] > 1}
        last = {k: i for i, k in enumerate(keys)}
        to_index = sorted({last[k] for k in keys if self.state.layer(k) is None} | doubted)
        spool = _Spool(store, image, self.spool_bytes, self.state) if store.spooled else None
        unverified: dict[int, str | None] = {}  # place -> its content's sha256 (None: unread)
        if to_index:
            self.run.progress.task(f"index {image.reference}", len(to_index), "layer")
            found: list[tuple[Callable[[], int], LayerRecord, Any]] = []
            first = (
                spool.first(to_index) if spool is not None else open_layers(store, image, to_index)
            )
            for locate, stream in first:
                # the uncompressed bytes are hashed where the store does not check them (its
                # blob digest is not the diff_id); a sequential store's place is known late
                at = None if store.sequential else locate()
                hasher = hashlib.sha256() if _checks(layers, at, to_index) else None
                found.append((locate, self._index_layer(stream, image.reference, hasher), hasher))
                self.run.progress.advance(1)
            for locate, record, hasher in found:
                i = locate()
                diff_id = layers[i].diff_id
                actual = None if hasher is None else "sha256:" + hasher.hexdigest()
                bad = record.error is not None or record.bomb is not None
                if diff_id and (bad or (actual is not None and actual != diff_id)):
                    unverified[i] = None if bad else actual
                    keys[i] = self.state.own_key(keys[i])
                    self.state.layers[keys[i]] = record
                else:
                    self.state.layers.setdefault(keys[i], record)
            self.run.progress.done()
        # a layer listed again (the same content) is read once, at its last place: applied
        # there, it leaves the same filesystem as applied at every place it is listed
        last = {k: i for i, k in enumerate(keys)}
        repeats = len(keys) - len(last)
        if repeats:
            yield Skip(
                f"{image.reference}",
                f"{repeats} repeated layer entr{'y' if repeats == 1 else 'ies'} (the same "
                "layer listed again): each layer scanned once, at its last place",
            )
        raw = self.state.configs.get(image.config_digest)
        if raw is None:  # another tag of the same image has it already (a daemon: one save)
            with store.open_blob(image.config_digest) as handle:
                raw = self.state.configs[image.config_digest] = handle.read()
        config = parse_config(raw, f"{image.reference}: config")
        yield from config_blobs(config, image.reference, image.manifest_digest, image.annotations)
        layer_records = [self.state.layers[k] for k in keys]
        indexes = [
            r.index if last[keys[i]] == i else LayerIndex() for i, r in enumerate(layer_records)
        ]
        db = PackageDb()
        for record in layer_records:
            if record.packages is not None:
                db.merge(record.packages)
        history = layer_history(config, len(keys))
        ctx = _ImageContext(image, indexes, db, history)
        to_read = []
        for i, record in enumerate(layer_records):
            if unverified.get(i) is not None:
                yield Skip(
                    ctx.layer_name(i),
                    f"content does not match its diff_id {layers[i].diff_id} (it is "
                    f"{unverified[i]}): scanned as a layer of its own, not cached",
                )
            if i in unknown or last[keys[i]] != i:
                continue
            if record.bomb is not None:
                yield Skip(f"{image.reference} layer {i + 1}", record.bomb)
                continue
            if record.error is not None:  # it fails alone: the other layers are still read
                yield Skip(ctx.layer_name(i), record.error, error=True)
                continue
            if record.files is not None and all(self.run.known(f.digest) for f in record.files):
                yield from self._reuse(ctx, i, record)
                self.state.layers_reused += 1
            else:
                to_read.append(i)
        if to_read:
            self.run.progress.task(f"scan {image.reference}", len(to_read), "layer")
            second = (
                spool.second(to_read)
                if spool is not None
                else open_layers(store, image, to_read, located=True)
            )
            for locate, stream in second:
                i = locate()
                yield from self._scan_layer(ctx, i, layer_records[i], stream)
                if i not in unverified:
                    self.state.keep(keys[i], layer_records[i])
                self.state.layers_scanned += 1
                self.run.progress.advance(1)
            self.run.progress.done()

    def _index_layer(self, stream: IO[bytes], where: str, hasher: Any = None) -> LayerRecord:
        record = LayerRecord()
        try:
            for entry in iter_layer(stream, where, self.options.max_ratio, hasher=hasher):
                if isinstance(entry, Skip):
                    continue
                record.index.add(entry.path, entry.kind)
                if entry.kind == FILE and wanted_db(entry.path, entry.size):
                    assert entry.content is not None
                    if record.packages is None:
                        record.packages = PackageDb()
                    record.packages.add_db(entry.path, _read(entry, where))
        except BombError as exc:
            record.bomb = str(exc).removeprefix(f"{where}: ")
            _drain(stream)
        except ImageError as exc:  # corrupt, truncated, missing: this layer only
            record.error = _reason(exc, where)
            record.index = LayerIndex()  # what it deletes is not known: nothing
            record.packages = None
            _drain_quietly(stream)
        finally:
            stream.close()
        return record

    def _reuse(self, ctx: _ImageContext, i: int, record: LayerRecord) -> Iterator[Blob | Skip]:
        for path, reason in record.skips:
            yield Skip(ctx.where(i, path), reason)
        for f in record.files or ():
            outer = f.path.split("!", 1)[0]
            prov = ctx.provenance(
                i, f.path, file_state(outer, i, ctx.indexes), ctx.db.vouches(outer, f.hashes)
            )
            yield Blob(prov, digest=f.digest)

    def _scan_layer(
        self,
        ctx: _ImageContext,
        i: int,
        record: LayerRecord,
        stream: IO[bytes],
    ) -> Iterator[Blob | Skip]:
        where = f"{ctx.image.reference} layer {i + 1}"
        files: list[FileRecord] | None = []
        record.skips = []
        options = self.options
        try:
            for entry in iter_layer(stream, where, options.max_ratio):
                if isinstance(entry, Skip):
                    path = entry.where
                    record.skips.append((path, entry.reason))
                    yield Skip(ctx.where(i, path), entry.reason)
                    continue
                if entry.kind != FILE or entry.size == 0:
                    continue
                if options.exclude and excluded(entry.path, options.exclude):
                    continue
                if entry.size > options.max_file_bytes:
                    reason = f"larger than the file size limit ({options.max_file_bytes} bytes)"
                    record.skips.append((entry.path, reason))
                    yield Skip(ctx.where(i, entry.path), reason)
                    continue
                state = file_state(entry.path, i, ctx.indexes)
                if entry.size > options.in_memory_bytes:
                    # streamed: its digest is known once the scanner has read it all (a file
                    # skipped as binary yields nothing, here as when the layer is reused)
                    prov = ctx.provenance(i, entry.path, state, False)
                    assert entry.content is not None
                    guarded = _Guarded(entry.content, where)
                    stream_in = cast(IO[bytes], guarded)
                    for blob in file_blobs(stream_in, entry.size, entry.path, prov, options):
                        if isinstance(blob, Blob) and blob.data is not None:  # archive member
                            digest = "sha256:" + hashlib.sha256(blob.data).hexdigest()
                            blob = replace(blob, digest=digest)
                            if files is not None:
                                member = str(blob.provenance.fields["path"])
                                files.append(FileRecord(member, digest, {}))
                        whole = isinstance(blob, Blob) and blob.provenance.fields["path"] == (
                            entry.path
                        )
                        reader = None
                        if isinstance(blob, Blob) and blob.stream is not None and not whole:
                            reader = _Digesting(blob.stream)  # a member streamed
                            blob = replace(blob, stream=cast(IO[bytes], reader))
                        yield blob
                        if not isinstance(blob, Blob) or blob.data is not None:
                            continue
                        if reader is not None and reader.ended:
                            if files is not None:
                                member = str(blob.provenance.fields["path"])
                                files.append(FileRecord(member, reader.digest(), {}))
                        elif whole and guarded.read_bytes == entry.size:
                            if files is not None:
                                files.append(FileRecord(entry.path, guarded.digest(), {}))
                        else:
                            files = None  # not read whole: the layer is not reusable
                    if guarded.error is not None:  # met while the scanner read the file
                        raise guarded.error
                    continue
                data = _read(entry, where)
                algos = ctx.db.algorithms(entry.path)
                hashes = {a: hashlib.new(a, data).hexdigest() for a in algos}
                digest = "sha256:" + (hashes.get("sha256") or hashlib.sha256(data).hexdigest())
                hashes["sha256"] = digest[7:]
                prov = ctx.provenance(i, entry.path, state, ctx.db.vouches(entry.path, hashes))
                if self.run.known(digest):
                    if files is not None:
                        files.append(FileRecord(entry.path, digest, hashes))
                    yield Blob(prov, digest=digest)
                    continue
                for blob in file_blobs(io.BytesIO(data), entry.size, entry.path, prov, options):
                    if isinstance(blob, Blob) and blob.data is not None:
                        blob_digest = (
                            digest
                            if blob.data is data
                            else ("sha256:" + hashlib.sha256(blob.data).hexdigest())
                        )
                        if files is not None:
                            files.append(
                                FileRecord(str(blob.provenance.fields["path"]), blob_digest, hashes)
                            )
                        blob = replace(blob, digest=blob_digest)
                    elif isinstance(blob, Blob) and blob.stream is not None:
                        # a member streamed (a compressed single file): its digest once read
                        reader = _Digesting(blob.stream)
                        yield replace(blob, stream=cast(IO[bytes], reader))
                        if files is not None and reader.ended:
                            path = str(blob.provenance.fields["path"])
                            files.append(FileRecord(path, reader.digest(), hashes))
                        else:
                            files = None
                        continue
                    elif isinstance(blob, Blob):
                        files = None
                    yield blob
        except BombError as exc:
            reason = str(exc).removeprefix(f"{where}: ")
            record.bomb = reason
            files = None
            yield Skip(where, reason)
            _drain(stream)
        except ImageError as exc:  # this layer fails alone; the files read so far are kept
            record.error = _reason(exc, where)
            files = None
            yield Skip(ctx.layer_name(i), record.error, error=True)
            _drain_quietly(stream)
        finally:
            stream.close()
        record.files = files


@dataclass(slots=True)
class _ImageContext:
    image: ResolvedImage
    indexes: list[LayerIndex]
    db: PackageDb
    history: list[str | None]

    # layers are counted from 1 at the base in messages, as the reports show them
    def where(self, i: int, path: str) -> str:
        return f"{self.image.reference} layer {i + 1}: {path}"

    def layer_name(self, i: int) -> str:
        return f"{self.image.reference} layer {i + 1} ({self.image.layers[i].digest})"

    def provenance(self, i: int, path: str, state: FileState, vendor: bool) -> Provenance:
        fields: dict[str, Any] = {
            "image": self.image.reference,
            "image_digest": self.image.manifest_digest,
            "platform": self.image.platform,
            "layer_digest": self.image.layers[i].digest,
            "layer_index": i,
            "created_by": self.history[i],
            "path": path,
            "state": state.state,
            "deleted_in_layer": state.deleted_in_layer,
            "overwritten_in_layer": state.overwritten_in_layer,
        }
        return Provenance("image-layer", fields, vendor=vendor)


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def _read(entry: Entry, where: str) -> bytes:
    assert entry.content is not None
    try:
        return entry.content.read()
    except ImageError:
        raise
    except _READ_ERRORS as exc:
        raise ImageError(f"{where}: corrupt or truncated layer ({exc})") from None


class _Digesting:
    """A stream handed to the scanner, hashed as it reads it (``ended``: read to its end)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.ended = False

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
        else:
            self.ended = True
        return data


class _Guarded:
    """A member stream read by the scanner: a read error ends the stream and is kept in
    ``error`` for the layer to raise (so that layer fails, not the whole image)."""

    def __init__(self, raw: IO[bytes], where: str) -> None:
        self._raw = raw
        self._where = where
        self.error: ImageError | None = None
        self._hash = hashlib.sha256()  # of what was read: the file's digest once read whole
        self.read_bytes = 0

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def read(self, n: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            data = self._raw.read(n)
            self._hash.update(data)
            self.read_bytes += len(data)
            return data
        except ImageError as exc:
            self.error = exc
        except _READ_ERRORS as exc:
            self.error = ImageError(f"{self._where}: corrupt or truncated layer ({exc})")
        return b""


def _drain(stream: IO[bytes]) -> None:
    try:
        while stream.read(1 << 20):
            pass
    except ImageError:
        raise
    except _READ_ERRORS:
        pass


def _drain_quietly(stream: IO[bytes]) -> None:
    """Read a failed layer's stream to its end, if it can be read at all."""
    try:
        _drain(stream)
    except (ImageError, *_READ_ERRORS):
        pass


def _reason(exc: ImageError, where: str) -> str:
    return str(exc).removeprefix(f"{where}: ")


def image_sources(
    references: Sequence[str],
    options: SourceOptions,
    store_factory: Callable[[str, SourceOptions], ImageStore] | None = None,
) -> list[Source]:
    """One source per reference, sharing the layers read in this run."""
    state = RunState()
    return [ImageSource(ref, options, state, store_factory) for ref in references]
