"""Git history as a source: every ref, each blob once, the commit that introduced it."""

from __future__ import annotations

from leakscan.sources.git.source import GitOptions, GitSource

__all__ = ["GitOptions", "GitSource"]
