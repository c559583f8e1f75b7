"""Git history as a source: every ref, each blob once, the commit that introduced it.

:class:`GitSource` is imported on first use: the start of a walk (:mod:`.prelude`) is
imported first, without the reading and content modules behind the source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leakscan.sources.git.options import GitOptions

if TYPE_CHECKING:
    from leakscan.sources.git.source import GitSource

__all__ = ["GitOptions", "GitSource"]


def __getattr__(name: str) -> Any:
    if name == "GitSource":
        from leakscan.sources.git.source import GitSource

        return GitSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
