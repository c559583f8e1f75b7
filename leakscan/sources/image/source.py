"""Images as blobs: every file of every layer with its whiteout state, and the configuration.

One pass over the layers of an image, streamed, nothing written to disk: each layer not seen
before in this run is read once, in order, and each of its files handed out as it is read.
What depends on later layers (whether a file is still ``present``, or ``deleted`` or
``overwritten`` in layer M) and on the image's package databases (whether it is an unmodified
vendor file) is worked out when a finding is reported (:mod:`.places`), once the whole image
has been read. A registry's layer is downloaded once, a daemon's ``docker save`` read once
(after a look at its headers when its layout does not name its layers).

A layer already scanned in this run (the same layer in another image or another reference of
the same image), or in an earlier run (the content cache), is not read again: its files are
handed out by content digest and the scanner re-attaches their matches. A diff_id declared
by two layers of one image is not taken on trust: those layers are read and checked first.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import IO, Any, cast

from leakscan.model import Blob, Skip, Stats
from leakscan.sources.content import Tap
from leakscan.sources.filesystem import excluded, file_blobs
from leakscan.sources.image import records
from leakscan.sources.image.config import config_blobs, layer_history, parse_config
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage
from leakscan.sources.image.layer import FILE, BombError, Entry, iter_layer
from leakscan.sources.image.oci import LAYER_TYPES
from leakscan.sources.image.places import FileHashes, ImagePlaces
from leakscan.sources.image.records import FileRecord, LayerRecord, LayerStore
from leakscan.sources.image.vendor import PackageDb, wanted_db
from leakscan.sources.image.whiteouts import LayerIndex
from leakscan.sources.interface import ScanContext, Source, SourceOptions

log = logging.getLogger(__name__)

#: yields (locate, stream): locate() gives the layer's index, known before its stream is read
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


def open_layers(store: ImageStore, image: ResolvedImage, wanted: Sequence[int]) -> LayerStreams:
    """Streams of the wanted layers (through the store's own sequential reader if it has one),
    each one's place known before it is read."""
    if store.sequential:
        yield from store.layer_streams(image, wanted, located=True)
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


def layer_key(layer: LayerRef) -> str:
    return layer.diff_id or layer.digest


def _checks(layers: Sequence[LayerRef], i: int) -> bool:
    """Whether the uncompressed bytes of layer ``i`` are hashed against its diff_id: where the
    store's own digest check is not that."""
    return bool(layers[i].diff_id and layers[i].diff_id != layers[i].digest)


class ImageSource(Source):
    """One image reference (all its platforms, or the chosen one)."""

    reports_progress = True  # a bar per image pass, counted in layers
    workers_pay = True  # 973 MB on 2 cores, quiet: 4.3-4.6 s with 2 workers, 5.4 s without

    def __init__(
        self,
        reference: str,
        options: SourceOptions,
        state: RunState | None = None,
        store_factory: Callable[[str, SourceOptions], ImageStore] | None = None,
    ) -> None:
        self.reference = reference
        self.name = reference
        self.options = options
        self.state = state or RunState()
        self.run = ScanContext()  # the run's context (blobs() is given it)
        self._factory = store_factory

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
        unverified: dict[int, str | None] = {}  # place -> its content's sha256 (None: unread)
        # a diff_id declared twice is not taken on trust: every layer declaring it is read and
        # checked first; those whose content matches are then one layer, the others stand alone
        counts = Counter(keys)
        doubted = sorted(
            i for i, layer in enumerate(layers) if layer.diff_id and counts[keys[i]] > 1
        )
        if doubted:
            self._check_doubted(store, image, doubted, keys, unverified)
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
        # a sequential store's configuration is a member of the stream its layers come in (a
        # daemon's save): asked for after them, it is read from that one stream
        late = store.sequential and image.config_digest not in self.state.configs
        ctx = _ImageContext(image, [None] * len(keys))  # its history: from the configuration
        if not late:
            yield from self._config(store, ctx)
        to_read: list[int] = []
        reused: list[tuple[int, LayerRecord]] = []
        for i, key in enumerate(keys):
            if unverified.get(i) is not None:
                yield Skip(ctx.layer_name(i), self._mismatch(layers[i], unverified[i]))
            if i in unknown or last[key] != i:
                continue
            record = self.state.layer(key)
            if record is None:
                to_read.append(i)
                continue
            ctx.indexes[i] = record.index
            if record.packages is not None:
                ctx.db.merge(record.packages)
            if record.bomb is not None:
                yield Skip(f"{image.reference} layer {i + 1}", record.bomb)
            elif record.error is not None:  # it fails alone: the other layers are still read
                yield Skip(ctx.layer_name(i), record.error, error=True)
            elif record.files is not None and all(self.run.known(f.digest) for f in record.files):
                reused.append((i, record))
            else:
                to_read.append(i)
        kept: list[tuple[str, LayerRecord]] = []  # layers to put in the content cache
        try:
            for i, record in reused:
                yield from self._reuse(ctx, i, record)
                self.state.layers_reused += 1
            if to_read:
                yield from self._read_layers(store, ctx, to_read, keys, unverified, kept)
            if late:
                yield from self._config(store, ctx)
        finally:  # every layer known (or the image given up): states and vendor marks
            ctx.finish()
        for key, record in kept:  # with the digests their files' package records ask for
            self.state.keep(key, record)

    def _config(self, store: ImageStore, ctx: _ImageContext) -> Iterator[Blob | Skip]:
        """The configuration's blobs; the history of the layers it tells put in ``ctx``."""
        image = ctx.image
        raw = self.state.configs.get(image.config_digest)
        if raw is None:  # another tag of the same image has it already (a daemon: one save)
            with store.open_blob(image.config_digest) as handle:
                raw = self.state.configs[image.config_digest] = handle.read()
        config = parse_config(raw, f"{image.reference}: config")
        ctx.history[:] = layer_history(config, len(image.layers))
        yield from config_blobs(config, image.reference, image.manifest_digest, image.annotations)

    def _read_layers(
        self,
        store: ImageStore,
        ctx: _ImageContext,
        to_read: list[int],
        keys: list[str],
        unverified: dict[int, str | None],
        kept: list[tuple[str, LayerRecord]],
    ) -> Iterator[Blob | Skip]:
        """Read the layers not known yet, in order, each once."""
        image = ctx.image
        layers = image.layers
        self.run.progress.task(f"scan {image.reference}", len(to_read), "layer")
        for locate, stream in self._streams(store, image, to_read):
            i = locate()
            # the uncompressed bytes are hashed where the store does not check them (its
            # blob digest is not the diff_id)
            hasher = hashlib.sha256() if _checks(layers, i) and i not in unverified else None
            record = LayerRecord()
            yield from self._scan_layer(ctx, i, record, stream, hasher)
            self.state.layers_scanned += 1
            self.run.progress.advance(1)
            diff_id = layers[i].diff_id
            actual = None if hasher is None else "sha256:" + hasher.hexdigest()
            bad = record.error is not None or record.bomb is not None
            if i in unverified:  # a doubted layer that failed its check: not cached
                self.state.layers[keys[i]] = record
            elif diff_id and (bad or (actual is not None and actual != diff_id)):
                # not what it declares (or unreadable): it stands for no other layer
                if not bad:
                    yield Skip(ctx.layer_name(i), self._mismatch(layers[i], actual))
                keys[i] = self.state.own_key(keys[i])
                self.state.layers[keys[i]] = record
            else:
                self.state.layers[keys[i]] = record
                kept.append((keys[i], record))
        self.run.progress.done()

    @staticmethod
    def _mismatch(layer: LayerRef, actual: str | None) -> str:
        return (
            f"content does not match its diff_id {layer.diff_id} (it is {actual}): scanned "
            "as a layer of its own, not cached"
        )

    def _streams(
        self, store: ImageStore, image: ResolvedImage, wanted: Sequence[int]
    ) -> LayerStreams:
        """The wanted layers' streams, each one's place known before it is read."""
        if store.remote:
            for i in wanted:
                self.state.layers_downloaded += 1
                self.state.bytes_downloaded += image.layers[i].size or 0
                yield (lambda i=i: i), _open(store, image, i)  # type: ignore[misc]
            return
        yield from open_layers(store, image, wanted)

    def _check_doubted(
        self,
        store: ImageStore,
        image: ResolvedImage,
        doubted: list[int],
        keys: list[str],
        unverified: dict[int, str | None],
    ) -> None:
        """Read the layers that declare one diff_id with others and check their content;
        each that does not match gets a key of its own (and is scanned by itself)."""
        layers = image.layers
        self.run.progress.task(f"check {image.reference}", len(doubted), "layer")
        for locate, stream in self._streams(store, image, doubted):
            i = locate()
            where = f"{image.reference} layer {i + 1}"
            hasher = hashlib.sha256()
            reason = _verify(stream, where, self.options.max_ratio, hasher)
            actual = None if reason is not None else "sha256:" + hasher.hexdigest()
            self.run.progress.advance(1)
            if reason is None and actual == layers[i].diff_id:
                continue
            unverified[i] = actual
            keys[i] = self.state.own_key(keys[i])
            if reason is not None:  # unreadable: it fails alone, as if read in the scan
                record = LayerRecord(error=reason)
                self.state.layers[keys[i]] = record
        self.run.progress.done()

    def _reuse(self, ctx: _ImageContext, i: int, record: LayerRecord) -> Iterator[Blob | Skip]:
        for path, reason in record.skips:
            yield Skip(ctx.where(i, path), reason)
        held: FileHashes | None = None
        clean = self.run.clean
        for f in record.files or ():
            if clean(f.digest):  # nothing to place: it holds no match
                continue
            outer = f.path.split("!", 1)[0]
            if held is None or held.hashes is not f.hashes or held.outer != outer:
                held = FileHashes(outer, f.hashes) if f.hashes else None
            yield Blob(ctx.place(i, f.path, held), digest=f.digest)

    def _scan_layer(
        self,
        ctx: _ImageContext,
        i: int,
        record: LayerRecord,
        stream: IO[bytes],
        hasher: Any = None,
    ) -> Iterator[Blob | Skip]:
        where = f"{ctx.image.reference} layer {i + 1}"
        files: list[FileRecord] | None = []
        skips = record.skips = []
        index = ctx.indexes[i] = record.index
        db = ctx.db
        options = self.options
        exclude, max_file, in_memory = (
            options.exclude,
            options.max_file_bytes,
            options.in_memory_bytes,
        )
        known = self.run.known
        # leaving the with stops its reading thread, before a failed stream is drained
        try:
            with closing(iter_layer(stream, where, options.max_ratio, hasher=hasher)) as entries:
                for entry in entries:
                    if isinstance(entry, Skip):
                        path = entry.where
                        skips.append((path, entry.reason))
                        yield Skip(ctx.where(i, path), entry.reason)
                        continue
                    path, kind, size = entry.path, entry.kind, entry.size
                    index.add(path, kind)
                    if kind != FILE or size == 0:
                        continue
                    package_db = wanted_db(path, size)
                    if not package_db and (
                        (exclude and excluded(path, exclude)) or size > max_file
                    ):
                        if size > max_file and not (exclude and excluded(path, exclude)):
                            reason = f"larger than the file size limit ({max_file} bytes)"
                            skips.append((path, reason))
                            yield Skip(ctx.where(i, path), reason)
                        continue
                    if size > in_memory and not package_db:
                        # streamed: its digest is known once the scanner has read it all (a file
                        # skipped as binary yields nothing, here as when the layer is reused)
                        prov = ctx.place(i, path, None)
                        assert entry.content is not None
                        guarded = _guarded(entry.content, where)
                        stream_in = cast(IO[bytes], guarded)
                        for blob in file_blobs(stream_in, size, path, prov, options):
                            if isinstance(blob, Blob) and blob.provenance is not prov:
                                member = str(blob.provenance.fields["path"])
                                blob = replace(blob, provenance=ctx.place(i, member, None))
                            else:
                                member = path
                            if isinstance(blob, Blob) and blob.data is not None:  # archive member
                                digest = "sha256:" + hashlib.sha256(blob.data).hexdigest()
                                blob = replace(blob, digest=digest)
                                if files is not None:
                                    files.append(FileRecord(member, digest, {}))
                            whole = member == path
                            reader = None
                            if isinstance(blob, Blob) and blob.stream is not None and not whole:
                                reader = Tap(blob.stream)  # a member streamed
                                blob = replace(blob, stream=cast(IO[bytes], reader))
                            yield blob
                            if not isinstance(blob, Blob) or blob.data is not None:
                                continue
                            if reader is not None and reader.ended:
                                if files is not None:
                                    files.append(FileRecord(member, reader.digest(), {}))
                            elif whole and guarded.read_bytes == size:
                                if files is not None:
                                    files.append(FileRecord(path, guarded.digest(), {}))
                            else:
                                files = None  # not read whole: the layer is not reusable
                        if guarded.error is not None:  # met while the scanner read the file
                            raise guarded.error
                        continue
                    if package_db:  # read whole: its records, then scanned as any file
                        data = _read(entry, where)
                        found = PackageDb()
                        found.add_db(path, data)
                        if record.packages is None:
                            record.packages = PackageDb()
                        record.packages.merge(found)
                        db.merge(found)
                        if (exclude and excluded(path, exclude)) or size > max_file:
                            if size > max_file and not (exclude and excluded(path, exclude)):
                                reason = f"larger than the file size limit ({max_file} bytes)"
                                skips.append((path, reason))
                                yield Skip(ctx.where(i, path), reason)
                            continue
                        tap = _Tap(io.BytesIO(data), where)
                    else:
                        # read as file_blobs asks: a binary file is dropped on its first block,
                        # the rest never read (nor hashed, nor looked up)
                        assert entry.content is not None
                        tap = _Tap(entry.content, where)
                    hashes: dict[str, str] = {}  # filled once the file is read
                    held = ctx.hashes(path, hashes)
                    prov = ctx.place(i, path, held)
                    digest = ""
                    for blob in file_blobs(cast(IO[bytes], tap), size, path, prov, options):
                        if not isinstance(blob, Blob):
                            yield blob
                            continue
                        if not digest and tap.whole(size):  # the file read: its digests
                            full = blob.data if blob.provenance is prov else None
                            content = tap.content() if full is None else full
                            digest = "sha256:" + hashlib.sha256(content).hexdigest()
                            hashes["sha256"] = digest[7:]
                            if db:
                                for algo in db.algorithms(path) - {"sha256"}:
                                    hashes[algo] = hashlib.new(algo, content).hexdigest()
                            held.data = content
                            if full is not None and known(digest):  # scanned before
                                if files is not None:
                                    files.append(FileRecord(path, digest, hashes))
                                yield Blob(prov, digest=digest)
                                continue
                        if blob.provenance is not prov:  # an archive's member
                            member = str(blob.provenance.fields["path"])
                            blob = replace(blob, provenance=ctx.place(i, member, held))
                        else:
                            member = path
                        if blob.data is not None:
                            blob_digest = (
                                digest
                                if member == path and digest
                                else ("sha256:" + hashlib.sha256(blob.data).hexdigest())
                            )
                            if files is not None:
                                files.append(FileRecord(member, blob_digest, hashes))
                            blob = Blob(
                                blob.provenance,
                                data=blob.data,
                                size=blob.size,
                                digest=blob_digest,
                                context=blob.context,
                                text=blob.text,
                                lines=blob.lines,
                            )
                        elif blob.stream is not None:
                            # a member streamed (a compressed single file): its digest once read
                            reader = Tap(blob.stream)
                            yield replace(blob, stream=cast(IO[bytes], reader))
                            if files is not None and reader.ended:
                                files.append(FileRecord(member, reader.digest(), hashes))
                            else:
                                files = None
                            continue
                        else:
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
            # what it deletes is not known: nothing
            record.index = ctx.indexes[i] = LayerIndex()
            record.packages = None
            yield Skip(ctx.layer_name(i), record.error, error=True)
            _drain_quietly(stream)
        finally:
            stream.close()
        record.files = files


class _ImageContext(ImagePlaces):
    # layers are counted from 1 at the base in messages, as the reports show them
    def where(self, i: int, path: str) -> str:
        return f"{self.image.reference} layer {i + 1}: {path}"

    def layer_name(self, i: int) -> str:
        return f"{self.image.reference} layer {i + 1} ({self.image.layers[i].digest})"


def _verify(stream: IO[bytes], where: str, max_ratio: int, hasher: Any) -> str | None:
    """Read a layer to its end, hashing its uncompressed bytes (``None``, or why it failed)."""
    try:
        for _ in iter_layer(stream, where, max_ratio, hasher=hasher):
            pass
    except ImageError as exc:  # raised by the walk itself: it has ended its reading
        _drain_quietly(stream)
        return _reason(exc, where)
    finally:
        stream.close()
    return None


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def _read(entry: Entry, where: str) -> bytes:
    assert entry.content is not None
    try:
        return entry.content.read()
    except ImageError:
        raise
    except _READ_ERRORS as exc:
        raise ImageError(f"{where}: corrupt or truncated layer ({exc})") from None


class _Tap:
    """A file's stream as file_blobs reads it, what was read kept (a binary file's first block
    only), read errors turned into the layer's :class:`ImageError`."""

    __slots__ = ("_chunks", "_raw", "_read", "_where")

    def __init__(self, raw: IO[bytes], where: str) -> None:
        self._raw = raw
        self._where = where
        self._chunks: list[bytes] = []
        self._read = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._raw.read(n)
        except ImageError:
            raise
        except _READ_ERRORS as exc:
            raise ImageError(f"{self._where}: corrupt or truncated layer ({exc})") from None
        if data:
            self._chunks.append(data)
            self._read += len(data)
        return data

    def readable(self) -> bool:
        return True

    def whole(self, size: int) -> bool:
        return self._read == size

    def content(self) -> bytes:
        chunks = self._chunks
        if len(chunks) != 1:
            chunks[:] = [b"".join(chunks)]
        return chunks[0]


def _layer_error(where: str) -> Callable[[BaseException], BaseException]:
    """A read error met inside a layer's file, as that layer's :class:`ImageError`."""

    def convert(exc: BaseException) -> BaseException:
        if isinstance(exc, ImageError):
            return exc
        return ImageError(f"{where}: corrupt or truncated layer ({exc})")

    return convert


def _guarded(raw: IO[bytes], where: str) -> Tap:
    """A file's stream read by the scanner: a read error ends it and is kept in ``error``
    for the layer to raise (so that layer fails, not the whole image); hashed as it is read."""
    return Tap(raw, catch=(ImageError, *_READ_ERRORS), convert=_layer_error(where), keep=True)


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
