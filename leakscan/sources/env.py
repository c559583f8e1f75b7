"""Environment variables: the current process's, or ``KEY=VALUE`` lines from a file/stdin.

One blob per variable: the value as content, the variable name as context (so generic
detectors can judge ``DB_PASSWORD=<value>``). Values are never logged.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from leakscan.model import Blob, Provenance, Skip
from leakscan.sources.content import SNIFF_BYTES, looks_binary
from leakscan.sources.interface import ScanContext, Source, SourceError, SourceOptions
from leakscan.sources.manifests.dotenv import parse_dotenv

log = logging.getLogger(__name__)

MAX_ENV_FILE_BYTES = 64 * 1024 * 1024


def _read_at_most(handle: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes in 1 MiB reads: one ``read(n)`` reserves ``n`` bytes up front (64 MiB
    for a two-line .env file)."""
    pieces = []
    while n > 0 and (piece := handle.read(min(n, 1 << 20))):
        pieces.append(piece)
        n -= len(piece)
    return b"".join(pieces)


class ProcessEnvSource(Source):
    """The variables of a process environment (``os.environ`` unless one is given)."""

    def __init__(self, options: SourceOptions, environ: Mapping[str, str] | None = None) -> None:
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.name = "environment"

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        for name in sorted(self.environ):
            value = self.environ[name]
            if not value.strip():
                continue
            data = os.fsencode(value) if isinstance(value, str) else bytes(value)
            yield Blob(Provenance("env", {"name": name}), data=data, context=name)


class EnvFileSource(Source):
    """``KEY=VALUE`` / dotenv lines from a file, or ``-`` for standard input."""

    def __init__(self, file: str, options: SourceOptions) -> None:
        self.file = file
        self.options = options
        self.name = file

    def _read(self) -> bytes:
        limit = min(self.options.max_file_bytes, MAX_ENV_FILE_BYTES)
        if self.file == "-":
            data = _read_at_most(sys.stdin.buffer, limit + 1)
        else:
            try:
                with Path(self.file).open("rb") as handle:
                    data = _read_at_most(handle, limit + 1)
            except FileNotFoundError:
                raise SourceError(f"{self.file}: no such file") from None
            except IsADirectoryError:
                raise SourceError(f"{self.file}: is a directory, not an env file") from None
            except OSError as exc:
                raise SourceError(f"{self.file}: cannot read: {exc.strerror}") from None
        if len(data) > limit:
            raise SourceError(f"{self.file}: larger than {limit} bytes; not an env file")
        return data

    def blobs(self, ctx: ScanContext) -> Iterator[Blob | Skip]:
        data = self._read()
        if looks_binary(data[:SNIFF_BYTES]):
            yield Skip(self.file, "binary content, not KEY=VALUE lines; not parsed")
            return
        text = data.decode("utf-8", "replace")
        for a in parse_dotenv(text):
            if not a.value.strip():
                continue
            provenance = Provenance("env", {"file": self.file, "name": a.name}, line=a.line)
            yield Blob(provenance, data=a.value.encode("utf-8", "replace"), context=a.name)
