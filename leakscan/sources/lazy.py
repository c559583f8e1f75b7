"""Location fields worked out when first read.

A place is known in full only once its whole source has been read: the commit that
introduced a git blob (:mod:`leakscan.sources.git.places`), a file's whiteout state in an
image (:mod:`leakscan.sources.image.places`). Such a place is a :class:`LazyFields`: a
mapping whose items are made by ``_made()`` the first time any is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class LazyFields(Mapping[str, Any]):
    """A read-only mapping built on first use by ``_made()`` (which caches what it makes)."""

    __slots__ = ()

    def _made(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self._made()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())
