"""``docker-daemon:NAME[:TAG]``: an image of the local Docker daemon, through the docker SDK.

The image is read from ``image.save()``'s chunks as a tar stream: no temporary copy, and
one save an image. The layer list (diff ids, in order) comes from the image's inspect data;
the save archive names its layers by path and lists them in ``manifest.json``, which comes
*after* the layers. So each layer is known by its name as it comes: an OCI-layout save names
it by its diff id; a classic one (dockerd 20.10) by an id made from its chain id and its
parent's (:func:`classic_ids`; the top layer's id covers the image's configuration too: it
is the layer whose parent is the one below it). A layer not known so is read by a second
save, once ``manifest.json`` has told where it goes. The configuration is a member of the
same save: the image source asks for it after the layers.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import posixpath
import tarfile
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import IO, Any

from leakscan.sources.content import Tap
from leakscan.sources.image.interface import ImageError, ImageStore, LayerRef, ResolvedImage
from leakscan.sources.image.oci import platform_matches

log = logging.getLogger(__name__)

LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar"
MAX_JSON = 16 * 1024 * 1024


def docker_client() -> Any:
    """A docker SDK client from the environment (DOCKER_HOST...), or ImageError."""
    try:
        import docker
        import docker.errors
    except ImportError:  # pragma: no cover - docker is a dependency
        raise ImageError("the docker SDK is not installed") from None
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as exc:
        raise ImageError(f"cannot reach the docker daemon: {_short(exc)}") from None
    except Exception as exc:  # requests' connection errors
        raise ImageError(f"cannot reach the docker daemon: {_short(exc)}") from None
    return client


def in_daemon(name: str, timeout: float = 5.0) -> bool:
    """Whether a reachable local Docker daemon holds the image ``name`` (False when no daemon
    answers: no socket, no permission, a timeout)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
    except Exception:  # no docker SDK, a bad DOCKER_HOST: no daemon
        return False
    try:
        client.images.get(name)
        return True
    except Exception:  # not there, or no daemon behind the socket
        return False
    finally:
        client.close()


#: moby's ``container.Config`` of an empty v1 image as ``json.Marshal`` writes it: what a
#: classic save's id of each layer below the top is made from (``image/v1.CreateID``)
_EMPTY_V1_CONFIG = (
    '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,'
    '"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,'
    '"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,'
    '"Labels":null}'
)


def classic_ids(diff_ids: Sequence[str]) -> list[str]:
    """The directory names a classic ``docker save`` gives the layers below the top one (hex
    ids): the sha256 of a v1 image made of nothing but the epoch, the layer's chain id and its
    parent's id. An id that differs (another daemon version) leaves its layer to the
    manifest: a layer is never taken for another."""
    ids: list[str] = []
    chain = ""
    parent = ""
    for diff_id in diff_ids[:-1]:
        chain = diff_id if not chain else _sha256(f"{chain} {diff_id}")
        body = f'{{"container_config":{_EMPTY_V1_CONFIG},"created":"1970-01-01T00:00:00Z"'
        body += f',"layer_id":{json.dumps(chain)}'
        if parent:
            body += f',"parent":{json.dumps(parent)}'
        parent = _sha256(body + "}")
        ids.append(parent.removeprefix("sha256:"))
    return ids


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200]


class _Chunks(io.RawIOBase):
    """A file object over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes], where: str) -> None:
        self._chunks = chunks
        self._buf = b""
        self._where = where

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
            except Exception as exc:  # requests/urllib3 errors mid-stream
                raise ImageError(
                    f"{self._where}: docker save stream failed: {_short(exc)}"
                ) from None
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _save_tap(raw: IO[bytes], where: str) -> Tap:
    """A layer member of the save stream: hashed as it is read (its diff id), and a stream
    that ends early is the image's error, whoever reads it."""

    def truncated(exc: BaseException) -> ImageError:
        return ImageError(f"{where}: docker save stream truncated: {exc}")

    return Tap(raw, (tarfile.TarError, EOFError), truncated)


class DaemonStore(ImageStore):
    sequential = True  # a save is one stream: layers come in its order (layer_streams)

    def __init__(self, image_name: str, reference: str) -> None:
        self.image_name = image_name
        self.reference = reference
        self.name = reference
        self._client = docker_client()
        self._image: Any = None
        self._config: bytes | None = None
        self._path_index: dict[str, int] = {}
        self._diff_ids: list[str] = []
        self._config_hex = ""
        self._classic: dict[str, int] = {}  # a classic save's layer directory -> its place
        self._below_top = ""  # the id of the layer under the top one ("" for one layer)
        self._parents: dict[str, str] = {}  # a classic layer directory -> its parent's id

    def images(self, platform: str | None = None) -> Iterator[ResolvedImage]:
        import docker.errors

        try:
            self._image = self._client.images.get(self.image_name)
        except docker.errors.ImageNotFound:
            raise ImageError(f"{self.reference}: no such image in the docker daemon") from None
        except docker.errors.DockerException as exc:
            raise ImageError(f"{self.reference}: {_short(exc)}") from None
        attrs = self._image.attrs
        self._diff_ids = list((attrs.get("RootFS") or {}).get("Layers") or [])
        self._config_hex = str(attrs.get("Id", "")).removeprefix("sha256:")
        ids = classic_ids(self._diff_ids)
        self._classic = {v1: i for i, v1 in enumerate(ids)}
        self._below_top = ids[-1] if ids else ""
        plat = f"{attrs.get('Os', 'linux')}/{attrs.get('Architecture', 'amd64')}"
        if attrs.get("Variant"):
            plat += f"/{attrs['Variant']}"
        if not platform_matches(plat, platform):
            raise ImageError(f"{self.reference}: image is {plat}, not {platform}")
        digests = attrs.get("RepoDigests") or []
        yield ResolvedImage(
            reference=self.reference,
            manifest_digest=digests[0].split("@", 1)[1] if digests else None,
            config_digest=str(attrs.get("Id")),
            layers=tuple(LayerRef(d, LAYER_TYPE, None, d) for d in self._diff_ids),
            platform=plat,
        )

    def _save(self) -> tarfile.TarFile:
        try:
            chunks = self._image.save(named=False)
        except Exception as exc:
            raise ImageError(f"{self.reference}: docker save failed: {_short(exc)}") from None
        raw = io.BufferedReader(_Chunks(iter(chunks), self.reference), 1 << 20)
        try:
            return tarfile.open(fileobj=raw, mode="r|")
        except tarfile.TarError as exc:
            raise ImageError(f"{self.reference}: docker save stream unreadable: {exc}") from None

    def _json_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
        if member.size > MAX_JSON:
            return None
        handle = tar.extractfile(member)
        return handle.read() if handle is not None else None

    def _learn(self, name: str, data: bytes) -> None:
        if name == "manifest.json":
            try:
                entries = json.loads(data)
            except (ValueError, RecursionError):
                raise ImageError(
                    f"{self.reference}: manifest.json in docker save is not JSON"
                ) from None
            for entry in entries if isinstance(entries, list) else []:
                config = str(entry.get("Config", ""))
                if self._config_hex and self._config_hex in config:
                    for i, path in enumerate(entry.get("Layers") or []):
                        self._path_index.setdefault(posixpath.normpath(str(path)), i)
        elif self._config_hex and self._config_hex in name:
            self._config = data

    def layer_streams(
        self,
        image: ResolvedImage,
        wanted: Sequence[int],
        located: bool = False,
    ) -> Iterator[tuple[Callable[[], int], IO[bytes]]]:
        """Layers in archive order. ``located``: each layer's index must be known before it is
        read (the content pass): a layer its name does not place is read from a second save,
        once the first one's manifest has placed it."""
        given: set[int] = set()
        deferred = yield from self._pass(set(wanted), located, given)
        rest = {i for i in wanted if i not in given}
        if deferred and rest:
            yield from self._pass(rest, False, given)

    def _pass(
        self, wanted: set[int], defer: bool, given: set[int]
    ) -> Generator[tuple[Callable[[], int], IO[bytes]], None, bool]:
        """One save's wanted layers (and what it tells on the way); with ``defer``, a layer
        whose place is not known yet is left for another save (returns whether one was)."""
        deferred = False
        tar = self._save()
        try:
            for member in tar:
                tar.members.clear()  # type: ignore[attr-defined]
                name = posixpath.normpath(member.name.lstrip("/"))
                if not member.isreg():
                    continue
                if (
                    name.endswith(".json")
                    or name == "manifest.json"
                    or (self._config_hex and name.endswith(self._config_hex))
                ):
                    data = self._json_member(tar, member)
                    if data is not None:
                        self._learn(name, data)
                    continue
                if name.endswith("/json") and name.count("/") == 1:  # a classic layer's
                    data = self._json_member(tar, member)
                    if data is not None:
                        self._learn_parent(name.split("/", 1)[0], data)
                    continue
                if not (name.endswith("/layer.tar") or name.startswith("blobs/")):
                    continue
                known = self._locate_by_name(name)
                if known is not None and known not in wanted:
                    continue
                if known is None and defer:  # placed by the manifest, if it is a layer
                    deferred = True
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                if known is not None:
                    given.add(known)
                tap = _save_tap(handle, self.reference)
                yield (lambda name=name, tap=tap: self._locate(name, tap)), tap  # type: ignore[misc]
        except tarfile.TarError as exc:
            raise ImageError(f"{self.reference}: docker save stream unreadable: {exc}") from None
        finally:
            tar.close()
        return deferred

    def _learn_parent(self, directory: str, data: bytes) -> None:
        try:
            v1 = json.loads(data)
        except (ValueError, RecursionError):
            return
        if isinstance(v1, dict):
            self._parents[directory] = str(v1.get("parent") or "")

    def _locate_by_name(self, name: str) -> int | None:
        if name in self._path_index:
            return self._path_index[name]
        if name.startswith("blobs/sha256/"):
            digest = "sha256:" + name.rsplit("/", 1)[-1]
            if digest in self._diff_ids:
                return self._diff_ids.index(digest)
        directory, _, base = name.rpartition("/")
        if base == "layer.tar" and "/" not in directory:
            if directory in self._classic:
                return self._classic[directory]
            # the top layer: the one on the layer below (its json came before its layer.tar)
            if self._parents.get(directory) == self._below_top and self._diff_ids:
                return len(self._diff_ids) - 1
        return None

    def _locate(self, name: str, tap: Tap) -> int:
        i = self._locate_by_name(name)
        if i is not None:
            return i
        digest = tap.digest()
        if digest in self._diff_ids:
            return self._diff_ids.index(digest)
        raise ImageError(f"{self.reference}: layer {name} of docker save matches no layer")

    def open_blob(self, digest: str) -> IO[bytes]:
        if digest.removeprefix("sha256:") != self._config_hex:
            raise ImageError(
                f"{self.reference}: blob {digest} is not readable by itself from the daemon"
            )
        if self._config is None:
            for _ in self.layer_streams(self._resolved(), []):
                pass
        if self._config is None:
            raise ImageError(f"{self.reference}: docker save holds no image configuration")
        return io.BytesIO(self._config)

    def _resolved(self) -> ResolvedImage:
        return ResolvedImage(self.reference, None, "sha256:" + self._config_hex, ())

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # closing is best effort
            log.debug("closing the docker client failed", exc_info=True)
