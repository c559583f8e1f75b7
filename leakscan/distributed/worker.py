"""The function a Dask worker runs: each layer of its task (one, or a batch of small ones)
fetched from the registry and scanned by the same image source and scanner as a local audit,
into an in-memory content cache whose rows are returned, one result per layer. The worker
never returns layer bytes, only what the content cache stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from leakscan import __version__
from leakscan.api import Scanner, cache_key, engine_version, load_detector
from leakscan.distributed.payload import Identity, LayerResult, LayerTask
from leakscan.errors import LeakscanError
from leakscan.sources.image.interface import ResolvedImage
from leakscan.sources.image.registry import ImageName, RegistryStore
from leakscan.sources.image.source import ImageSource, RunState, layer_key
from leakscan.sources.interface import SourceOptions
from leakscan.sources.registry.auth import RegistryAuth
from leakscan.sources.registry.client import RegistryClient
from leakscan.store.content_cache import ContentCache
from leakscan.store.db import connect
from leakscan.userinfo import hide_userinfo

#: a worker process scans one layer at a time (the detector's scratch space is per process);
#: run workers with ``--nthreads 1`` and as many processes as cores
_ONE_AT_A_TIME = threading.Lock()

_CONFIG = b"{}"  # the synthetic image's configuration: no fields to scan
_CONFIG_DIGEST = "sha256:" + "0" * 64


def identity_of(task: LayerTask) -> Identity:
    """This worker's identity for the task's configuration."""
    config = task.config
    return Identity(
        __version__,
        engine_version(),
        load_detector(config).digest,
        cache_key(config, task.policy),
    )


def mismatch(mine: Identity, theirs: Identity) -> str | None:
    """Why this worker may not scan for that coordinator (``None``: it may)."""
    for what, a, b in (
        ("leakscan version", mine.version, theirs.version),
        ("rules digest", mine.rules_digest, theirs.rules_digest),
        ("engine version", mine.engine, theirs.engine),
        ("scan configuration", mine.cache_key, theirs.cache_key),
    ):
        if a != b:
            return (
                f"a Dask worker runs {what} {a}, the coordinator {b}: install the same "
                "leakscan and rules on every worker (no results were mixed)"
            )
    return None


class _OneLayer(RegistryStore):
    """One layer of a registry as an image of its own (its configuration is empty)."""

    def __init__(self, task: LayerTask, client: RegistryClient, options: SourceOptions) -> None:
        reference = f"{client.host}/{task.repository}@{task.layer.digest}"
        super().__init__(reference, options, client=client)
        self.image = ImageName(client.host, task.repository, task.layer.digest)
        self.layer = task.layer
        self._configs[_CONFIG_DIGEST] = _CONFIG
        if task.layer.size is not None:
            self._sizes[task.layer.digest] = task.layer.size

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        yield ResolvedImage(self.reference, None, _CONFIG_DIGEST, (self.layer,))

    def close(self) -> None:
        """The client is the worker process's: kept for the next layer."""


def scan_layers(tasks: tuple[LayerTask, ...]) -> list[LayerResult]:
    """Scan the layers of a batch one after the other (in a Dask worker): one result each.
    The tasks of a batch share their identity and configuration (one audit's)."""
    first = tasks[0]
    try:
        wrong = mismatch(identity_of(first), first.identity)
    except LeakscanError as exc:  # e.g. a rules file the worker cannot read
        wrong = f"a Dask worker cannot load the coordinator's rules: {exc}"
    if wrong is not None:
        return [
            LayerResult(
                t.layer.digest, layer_key(t.layer), None, [], mismatch=wrong, worker=_name()
            )
            for t in tasks
        ]
    with _ONE_AT_A_TIME:
        if len(tasks) == 1:  # a failure fails the task: Dask retries it elsewhere
            return [_scan(first, layer_key(first.layer))]
        return [_scan_one_of_many(task) for task in tasks]


def _scan_one_of_many(task: LayerTask) -> LayerResult:
    """A layer of a batch: one that fails leaves its result without a record (the local
    audit reads it), not its batch-mates without theirs."""
    key = layer_key(task.layer)
    try:
        return _scan(task, key)
    except Exception as exc:
        why = hide_userinfo(f"{type(exc).__name__}: {exc}")[:300]
        return LayerResult(task.layer.digest, key, None, [], worker=_name(), problem=why)


def _scan(task: LayerTask, key: str) -> LayerResult:
    started, cpu = time.monotonic(), time.process_time()
    config = task.config
    cache = ContentCache(connect(":memory:"), task.identity.cache_key)
    client = _client(task)  # kept alive for the next layer: its connections and tokens
    scanner = Scanner(config, cache=cache)
    try:
        store = _OneLayer(task, client, config.options)
        source = ImageSource(
            store.reference, config.options, RunState(store=cache), lambda ref, opts: store
        )
        scanner.run(source)
    finally:
        scanner.close()
    cache.flush()
    assert cache.conn is not None
    conn = cache.conn
    row = conn.execute("SELECT record FROM cc_layers WHERE layer=?", (key,)).fetchone()
    contents = [
        (str(d), str(m)) for d, m in conn.execute("SELECT digest, matches FROM cc_contents")
    ]
    conn.close()
    problem = None
    if cache.failed:
        problem = "the worker's in-memory content cache failed (see its log)"
    elif row is None:
        problem = (
            "; ".join(scanner.errors)
            or "; ".join(f"{s.where}: {s.reason}" for s in scanner.skipped)
            or "not cacheable"
        )
    return LayerResult(
        task.layer.digest,
        key,
        None if row is None else bytes(row[0]),
        contents,
        bytes_scanned=scanner.stats.bytes,
        seconds=time.monotonic() - started,
        cpu_seconds=time.process_time() - cpu,
        worker=_name(),
        problem=problem,
        cache_key=task.identity.cache_key,
    )


#: one registry client per registry and credentials in a worker process: its connections are
#: kept alive and its bearer tokens reused from one layer to the next
_CLIENTS: dict[tuple[object, ...], RegistryClient] = {}


def _client(task: LayerTask) -> RegistryClient:
    key = (task.registry, task.insecure, task.timeout, task.credentials)
    client = _CLIENTS.get(key)
    if client is None:
        auth = RegistryAuth(task.credentials, use_docker_config=False)
        client = RegistryClient(task.registry, auth, insecure=task.insecure, timeout=task.timeout)
        _CLIENTS[key] = client
    return client


def _name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"
