"""Module-level ``regex`` patterns compiled when first used.

The ``regex`` module parses a pattern in Python: 0.2-1 ms each. The engine keeps ~35
patterns at module level, and compiling them all at import cost a small scan ~25 ms of its
start-up, although most scans use few of them (a blob without candidates uses none).

``lazy(globals(), pattern, flags)`` stands in for ``regex.compile(pattern, flags)``: on the
first attribute asked of it (``.search``, ``.match``...) it compiles the pattern and puts
the compiled pattern in its place in that namespace, so every later use is the compiled
pattern itself, at no extra cost. The pattern and flags are those given: nothing about the
matching changes (compiled through :mod:`leakscan.regexcache`).
"""

from __future__ import annotations

from typing import Any

from leakscan import regexcache

__all__ = ["lazy"]


class _Lazy:
    __slots__ = ("_compiled", "_flags", "_namespace", "_pattern")

    def __init__(self, namespace: dict[str, Any], pattern: str | bytes, flags: int) -> None:
        self._namespace = namespace
        self._pattern = pattern
        self._flags = flags
        self._compiled: Any = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = regexcache.compile(self._pattern, self._flags)
            for key, value in list(self._namespace.items()):
                if value is self:
                    self._namespace[key] = compiled
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy({self._pattern!r}, {self._flags!r})"


def lazy(namespace: dict[str, Any], pattern: str | bytes, flags: int = 0) -> Any:
    """``regex.compile(pattern, flags)`` when first used; ``namespace`` is the module's
    ``globals()``, where the compiled pattern then replaces this stand-in."""
    return _Lazy(namespace, pattern, flags)
