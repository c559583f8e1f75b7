"""``regex`` patterns compiled from a cache of the programs ``regex`` made for them before.

The ``regex`` module parses a pattern and generates its program in Python (0.2-2 ms a
pattern) before it hands the program to its C engine. A small scan compiles the patterns of
the rules that hit, their allow-lists, the placeholder words and the engine's own: ~50
patterns, ~25 ms. :func:`compile` keeps each program (the arguments ``regex`` gives its C
compile) in one file in the cache folder, keyed by the pattern, its flags and the versions of
``regex`` and Python; a pattern seen in an earlier run goes to the C engine directly. The
program is the one ``regex`` made: nothing about matching changes. Anything unexpected (a
``regex`` built otherwise, a damaged file, another thread compiling at the same moment) falls
back to ``regex.compile``. Imports nothing of leakscan but its cache folder.
"""

from __future__ import annotations

import pickle
import sys
import threading
from pathlib import Path
from typing import Any

import regex

from leakscan.keptdict import KeptDict
from leakscan.paths import cache_dir

__all__ = ["compile"]

_lock = threading.Lock()  # regex's engine is swapped for a recorder while one compiles


def _file() -> Path:
    version = getattr(regex, "__version__", "unknown")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return cache_dir() / f"regex-programs-v2-{version}-py{python}.pickle"


#: (pattern, flags, regex's default version) -> the pickled program
programs: KeptDict[tuple[Any, int, int], bytes] = KeptDict(_file, pickle.dumps, pickle.loads)


def compile(pattern: str | bytes, flags: int = 0) -> Any:
    """``regex.compile(pattern, flags)``, its program read from the cache when it is there."""
    key = (pattern, int(flags), int(getattr(regex, "DEFAULT_VERSION", 0)))
    kept = programs.get(key)
    if kept is not None:
        try:
            return _engine().compile(*pickle.loads(kept))
        except Exception:  # a program this regex does not take: compile anew
            pass
    compiled, args = _recorded(pattern, flags)
    if args is not None:
        programs.add(key, pickle.dumps(args))
    return compiled


def _engine() -> Any:
    return regex._main._regex  # the C engine regex compiles programs with


def _recorded(pattern: str | bytes, flags: int) -> tuple[Any, tuple[Any, ...] | None]:
    """The compiled pattern, and the program regex gave its C engine for it (None when it
    could not be told apart: no call, another thread's, a regex built otherwise)."""
    main = getattr(regex, "_main", None)
    engine: Any = getattr(main, "_regex", None)
    if engine is None or not hasattr(engine, "compile"):
        return regex.compile(pattern, flags), None
    seen: list[tuple[Any, ...]] = []

    class _Recorder:
        def __getattr__(self, name: str) -> Any:
            return getattr(engine, name)

        def compile(self, *args: Any) -> Any:
            seen.append(args)
            return engine.compile(*args)

    with _lock:
        main._regex = _Recorder()  # type: ignore[union-attr]
        try:
            # not from regex's own cache of compiled patterns: that would skip the C compile
            compiled = regex.compile(pattern, flags, cache_pattern=False)
        finally:
            main._regex = engine  # type: ignore[union-attr]
    if len(seen) != 1 or seen[0][:1] != (pattern,):
        return compiled, None
    try:
        again = engine.compile(*seen[0])
    except Exception:  # the recorded program does not compile: not kept
        return compiled, None
    same = (again.pattern, again.flags, again.groups, again.groupindex) == (
        compiled.pattern,
        compiled.flags,
        compiled.groups,
        compiled.groupindex,
    )
    return compiled, seen[0] if same else None
