"""Files and directories (and stdin): walk, sniff binaries, open nested archives.

Symbolic links are not followed (a link loop or a link out of the tree is never walked).
Files larger than the in-memory limit are handed over as streams (scanned in overlapping
windows); files above the size limit are skipped and reported.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.archives import is_archive_name, iter_archive
from leakscan.sources.compression import sniff
from leakscan.sources.interface import ScanContext, Source, SourceError, SourceOptions
from leakscan.userinfo import hide_userinfo

SNIFF_BYTES = 8192
_TEXT_BYTES = bytes([9, 10, 12, 13, 27, *range(32, 256)])  # deleted by translate: text


def looks_binary(head: bytes) -> bool:
    """NUL bytes (outside UTF-16/32 text) or mostly non-text bytes in the first block."""
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        utf16 = odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even)
        return not utf16
    control = len(head.translate(None, _TEXT_BYTES))
    return control / len(head) > 0.15


#: names of text files (configuration, manifests, keys, scripts) scanned even when their
#: first block looks binary (a NUL byte in front of a manifest must not hide its secrets)
TEXT_SUFFIXES = (
    ".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env",
    ".tf", ".tfvars", ".txt", ".xml", ".sh", ".ps1", ".py", ".js", ".ts", ".pem", ".key",
    ".npmrc", ".pypirc", ".netrc", ".htpasswd", ".sql",
)  # fmt: skip


def is_text_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1].lower()
    return base.endswith(TEXT_SUFFIXES) or base.startswith(".env") or base == "dockerfile"


def excluded(path: str, patterns: tuple[str, ...]) -> bool:
    parts = path.split("/")
    for pattern in patterns:
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(parts[-1], pattern):
            return True
        if any(fnmatch.fnmatch(p, pattern) for p in parts[:-1]):
            return True
    return False


class FilesystemSource(Source):
    """A file, a directory tree, or ``-`` for standard input."""

    def __init__(self, target: str, options: SourceOptions) -> None:
        self.target = target
        self.name = target
        self.options = options

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        if self.target == "-":
            data = sys.stdin.buffer.read(self.options.max_file_bytes + 1)
            if len(data) > self.options.max_file_bytes:
                yield Skip("-", "standard input larger than the file size limit; scanned its start")
                data = data[: self.options.max_file_bytes]
            yield Blob(Provenance("file", {"path": "-"}), data=data)
            return
        root = Path(self.target)
        try:
            st = root.lstat()
        except FileNotFoundError:
            raise SourceError(f"{hide_userinfo(self.target)}: no such file or directory") from None
        except OSError as exc:
            raise SourceError(f"{self.target}: cannot read: {exc.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            yield from self._walk(root)
        else:
            yield from self._file(root, str(root))

    def _walk(self, root: Path) -> Iterator[Blob | Skip]:
        def onerror(exc: OSError) -> None:
            errors.append(Skip(str(exc.filename), f"cannot read directory: {exc.strerror}"))

        errors: list[Skip] = []
        prefix = "" if self.target in (".", "./") else self.target.rstrip("/") + "/"
        for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
            rel_dir = os.path.relpath(dirpath, root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d != ".git" and not excluded(rel_dir + d, self.options.exclude)
            )
            for name in sorted(filenames):
                rel = rel_dir + name
                if excluded(rel, self.options.exclude):
                    continue
                yield from self._file(Path(dirpath) / name, prefix + rel)
            yield from errors
            errors.clear()

    def _file(self, path: Path, rel: str) -> Iterator[Blob | Skip]:
        try:
            st = path.lstat()
        except OSError as exc:
            yield Skip(rel, f"cannot read: {exc.strerror}")
            return
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return
        if st.st_size > self.options.max_file_bytes:
            yield Skip(
                rel, f"larger than the file size limit ({self.options.max_file_bytes} bytes)"
            )
            return
        try:
            handle = path.open("rb")
        except OSError as exc:
            yield Skip(rel, f"cannot read: {exc.strerror}")
            return
        with handle:
            yield from file_blobs(
                handle, st.st_size, rel, Provenance("file", {"path": rel}), self.options
            )


def file_blobs(
    handle: IO[bytes],
    size: int,
    name: str,
    provenance: Provenance,
    options: SourceOptions,
    depth: int = 0,
) -> Iterator[Blob | Skip]:
    """The blobs of one file's content: itself, or the members of an archive it is."""
    head = handle.read(SNIFF_BYTES)
    if is_archive_name(name) or archive_magic(head):
        if depth >= options.archive_depth:
            yield Skip(name, f"nested archive deeper than {options.archive_depth} levels")
            return
        pieces = read_upto(handle, options.archive_bytes + 1 - len(head), size - len(head))
        data = b"".join([head, *pieces])
        if len(data) > options.archive_bytes:
            yield Skip(name, "archive larger than the archive size limit")
            return
        yield from iter_archive(data, name, provenance, options, depth + 1, file_blobs)
        return
    if looks_binary(head) and not options.scan_binary and not is_text_name(name):
        return  # a text or manifest name is scanned anyway: a NUL byte must not hide it
    if size <= options.in_memory_bytes:
        yield Blob(provenance, data=head + handle.read())
    else:
        yield Blob(provenance, stream=cast(IO[bytes], _Prefixed(head, handle)), size=size)


_PIECE = 16 << 20


def read_upto(handle: IO[bytes], limit: int, expected: int) -> list[bytes]:
    """Up to ``limit`` bytes, in pieces: ``read(n)`` reserves ``n`` bytes up front, so a
    10 KB archive must not ask for the whole archive size limit (512 MiB) in one read.
    ``expected`` (the size announced, if any) is asked for first: usually the only read."""
    pieces = []
    want = min(max(expected, 0) + 1, _PIECE)  # a file's own size: usually one read
    while limit > 0:
        piece = handle.read(min(limit, want))
        if not piece:
            break
        pieces.append(piece)
        limit -= len(piece)
        want = _PIECE
    return pieces


def archive_magic(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04") or sniff(head) is not None or head[257:262] == b"ustar"


class _Prefixed:
    """A file object that first returns bytes already read (the sniffed head)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._rest.read(n - len(out))
            return out
        return self._rest.read(n)
