"""Reading image blobs safely: digests checked as bytes flow, files of a layout or archive.

:class:`Verified` hashes a blob while it is read and raises :class:`ImageError` at its end
when the digest does not match. A layout is read through a :class:`BlobFiles` (a directory on
disk or a tar archive read in place, never unpacked).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import re
import tarfile
from pathlib import Path
from typing import IO, Any

from leakscan.sources.image.interface import ImageError

DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
MAX_JSON_BYTES = 16 * 1024 * 1024  # manifests, indexes, configs


def check_digest(digest: str, where: str) -> tuple[str, str]:
    if not isinstance(digest, str) or not DIGEST.match(digest):
        raise ImageError(f"{where}: invalid digest {str(digest)[:80]!r}")
    algo, _, hexdigest = digest.partition(":")
    return algo, hexdigest


class Verified:
    """A blob stream whose digest (and size, when known) is checked when it ends."""

    def __init__(self, raw: IO[bytes], digest: str, where: str, size: int | None = None) -> None:
        algo, self._expected = check_digest(digest, where)
        self._raw = raw
        self._hash = hashlib.new(algo)
        self._where = where
        self._size = size
        self._read = 0
        self._done = False

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._hash.update(data)
            self._read += len(data)
            if self._size is not None and self._read > self._size:
                raise ImageError(f"{self._where}: blob is larger than its descriptor says")
        if (not data or n is None or n < 0) and not self._done and n != 0:
            self._done = True
            if self._hash.hexdigest() != self._expected:
                raise ImageError(f"{self._where}: digest mismatch (blob is corrupt or truncated)")
        return data

    def __enter__(self) -> Verified:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


def read_json_blob(stream: IO[bytes], where: str) -> bytes:
    data = b""
    while len(data) <= MAX_JSON_BYTES:
        chunk = stream.read(1 << 16)
        if not chunk:
            break
        data += chunk
    if len(data) > MAX_JSON_BYTES:
        raise ImageError(f"{where}: JSON document larger than {MAX_JSON_BYTES} bytes")
    return data


class BlobFiles:
    """Files of an image layout (relative paths)."""

    name: str = ""

    def open(self, rel: str) -> IO[bytes]:
        raise NotImplementedError

    def exists(self, rel: str) -> bool:
        raise NotImplementedError

    def size(self, rel: str) -> int | None:
        return None

    def close(self) -> None:
        pass


class DirFiles(BlobFiles):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = str(root)

    def _path(self, rel: str) -> Path:
        return self.root / rel

    def open(self, rel: str) -> IO[bytes]:
        try:
            return self._path(rel).open("rb")
        except FileNotFoundError:
            raise ImageError(f"{self.name}: missing {rel}") from None
        except OSError as exc:
            raise ImageError(f"{self.name}: cannot read {rel}: {exc.strerror}") from None

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()


class TarFiles(BlobFiles):
    """Members of a tar archive, read in place (seeks; nothing extracted)."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        try:
            self._tar = tarfile.open(path, mode="r:")
            self._members: dict[str, tarfile.TarInfo] = {}
            for member in self._tar:
                self._members[posixpath.normpath(member.name.lstrip("/"))] = member
                self._tar.members.clear()  # type: ignore[attr-defined]
        except FileNotFoundError:
            raise ImageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{path}: is a directory, not an archive") from None
        except (tarfile.TarError, EOFError) as exc:
            raise ImageError(f"{path}: not a readable tar archive ({exc})") from None
        except OSError as exc:
            raise ImageError(f"{path}: cannot read: {exc.strerror}") from None

    def _member(self, rel: str) -> tarfile.TarInfo | None:
        name = posixpath.normpath(rel)
        for _ in range(8):  # docker save links duplicate layers: follow a few, inside only
            member = self._members.get(name)
            if member is None or not (member.issym() or member.islnk()):
                return member
            target = member.linkname
            if member.issym():
                target = posixpath.join(posixpath.dirname(name), target)
            name = posixpath.normpath(target.lstrip("/"))
            if name.startswith("../"):
                return None
        return None

    def open(self, rel: str) -> IO[bytes]:
        member = self._member(rel)
        if member is None or not member.isreg():
            raise ImageError(f"{self.name}: missing {rel}")
        fileobj: Any = self._tar.fileobj  # the archive's own file (opened by path)
        if not member.sparse and fileobj is not None:
            return _Region(fileobj.fileno(), member.offset_data, member.size)  # type: ignore[return-value]
        handle = self._tar.extractfile(member)
        assert handle is not None
        return handle

    def exists(self, rel: str) -> bool:
        member = self._member(rel)
        return member is not None and member.isreg()

    def size(self, rel: str) -> int | None:
        member = self._member(rel)
        return member.size if member is not None else None

    def close(self) -> None:
        self._tar.close()


class _Region(io.RawIOBase):
    """A member's bytes read in place with ``pread`` (one copy, no seek: members may be read
    in turns; tarfile's reader seeks and copies twice through its buffer, a tenth of reading
    a docker save archive)."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._pos = offset
        self._end = offset + size

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        left = self._end - self._pos
        if n is None or n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        data = os.pread(self._fd, n, self._pos)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def blob_path(digest: str, where: str) -> str:
    algo, hexdigest = check_digest(digest, where)
    return f"blobs/{algo}/{hexdigest}"


def load_json(data: bytes, where: str) -> dict[str, Any]:
    """A JSON object (an image manifest, index or config) or a clear ImageError."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ImageError(f"{where} is not JSON") from None
    if not isinstance(doc, dict):
        raise ImageError(f"{where} is not a JSON object")
    return doc
