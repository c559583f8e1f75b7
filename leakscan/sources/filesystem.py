"""Files and directories (and stdin): the walk and each file's path.

Symbolic links are not followed (a link loop or a link out of the tree is never walked).
Files above the size limit are skipped and reported; what the others' bytes become (binary,
archive, in memory or a stream) is :mod:`leakscan.sources.content`'s to decide.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.content import file_blobs, read_upto, too_large, unreadable
from leakscan.sources.interface import ScanContext, Source, SourceError, SourceOptions
from leakscan.userinfo import hide_userinfo

__all__ = ["FilesystemSource", "excluded", "file_blobs", "read_upto"]  # the last two: content's


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
                yield Skip("-", too_large(self.options.max_file_bytes) + "; scanned its start")
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
            yield Skip(rel, unreadable(exc.strerror))
            return
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return
        if st.st_size > self.options.max_file_bytes:
            yield Skip(rel, too_large(self.options.max_file_bytes))
            return
        try:
            handle = path.open("rb")
        except OSError as exc:
            yield Skip(rel, unreadable(exc.strerror))
            return
        with handle:
            yield from file_blobs(
                handle, st.st_size, rel, Provenance("file", {"path": rel}), self.options
            )
