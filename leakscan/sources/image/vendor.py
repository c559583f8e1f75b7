"""Unmodified vendor files: content the image's own package databases vouch for.

dpkg (``var/lib/dpkg/info/*.md5sums``: md5 per path), apk (``lib/apk/db/installed``: ``F:``
directory, ``R:`` file, ``Z:Q1`` base64 sha1), rpm (``var/lib/rpm`` or
``usr/lib/sysimage/rpm``: ``rpmdb.sqlite``, ``Packages.db`` or the Berkeley DB ``Packages``,
read by :mod:`.rpmdb`: md5 to sha512 per path) and Python (``*.dist-info/RECORD``: path,
``sha256=`` urlsafe base64) record a hash per installed file. A file whose content has the
recorded hash is an untouched vendor file: its findings are kept but ranked low. A file
someone edited after installing no longer matches and is scanned like any other.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Iterable

from leakscan.sources.image import rpmdb

MAX_DB_BYTES = 32 * 1024 * 1024  # package databases larger than this are not read
RPM_MAX_DB_BYTES = 256 * 1024 * 1024  # but an rpm database holds every header: often 10-60 MB
RPM_DB_PATHS = frozenset(
    f"{folder}/{name}"
    for folder in ("var/lib/rpm", "usr/lib/sysimage/rpm")
    for name in rpmdb.BACKENDS
)


def is_db_path(path: str) -> bool:
    return (
        (path.startswith("var/lib/dpkg/info/") and path.endswith(".md5sums"))
        or path == "lib/apk/db/installed"
        or path in RPM_DB_PATHS
        or (path.endswith("/RECORD") and posixpath.dirname(path).endswith(".dist-info"))
    )


def wanted_db(path: str, size: int) -> bool:
    """True for a package database the index pass reads (one within its size limit)."""
    return is_db_path(path) and size <= (RPM_MAX_DB_BYTES if path in RPM_DB_PATHS else MAX_DB_BYTES)


class PackageDb:
    """Expected hashes by path, from the package databases of one layer, or of one image."""

    def __init__(self) -> None:
        self.expected: dict[str, set[tuple[str, str]]] = {}

    def __bool__(self) -> bool:
        return bool(self.expected)

    def merge(self, other: PackageDb) -> None:
        """Add another database's records (one image's layers each bring theirs)."""
        for path, records in other.expected.items():
            mine = self.expected.get(path)
            if mine is None:
                self.expected[path] = set(records)
            else:
                mine |= records

    def _add(self, path: str, algo: str, hexdigest: str) -> None:
        self.expected.setdefault(path, set()).add((algo, hexdigest.lower()))

    def add_db(self, path: str, data: bytes) -> None:
        if path in RPM_DB_PATHS:
            for name, algo, hexdigest in rpmdb.records(posixpath.basename(path), data):
                self._add(name, algo, hexdigest)
            return
        text = data.decode("utf-8", "replace")
        if path.endswith(".md5sums"):
            for line in text.splitlines():
                digest, _, name = line.partition("  ")
                if len(digest) == 32 and name:
                    self._add(name.strip().lstrip("/"), "md5", digest)
        elif path == "lib/apk/db/installed":
            self._add_apk(text.splitlines())
        elif path.endswith("/RECORD"):
            base = posixpath.dirname(posixpath.dirname(path))
            for line in text.splitlines():
                parts = line.rsplit(",", 2)
                if len(parts) != 3 or not parts[1].startswith("sha256="):
                    continue
                name = posixpath.normpath(posixpath.join(base, parts[0]))
                if name.startswith("../"):
                    continue
                raw = _b64(parts[1][7:], urlsafe=True)
                if raw is not None:
                    self._add(name, "sha256", raw.hex())

    def _add_apk(self, lines: Iterable[str]) -> None:
        folder, name = "", ""
        for line in lines:
            if line.startswith("F:"):
                folder = line[2:]
            elif line.startswith("R:"):
                name = posixpath.join(folder, line[2:])
            elif line.startswith("Z:Q1") and name:
                raw = _b64(line[4:], urlsafe=False)
                if raw is not None:
                    self._add(name, "sha1", raw.hex())
            elif not line:
                folder, name = "", ""

    def algorithms(self, path: str) -> set[str]:
        """Hash algorithms needed to check ``path`` (empty: no record for it)."""
        return {algo for algo, _ in self.expected.get(path, ())}

    def vouches(self, path: str, digests: dict[str, str]) -> bool:
        """True when a database records ``path`` with one of the given digests."""
        return any(digests.get(algo) == value for algo, value in self.expected.get(path, ()))


def _b64(text: str, urlsafe: bool) -> bytes | None:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        return (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(padded)
    except (ValueError, TypeError):
        return None
