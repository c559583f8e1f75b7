"""The methods ``dataclasses`` writes for each class, compiled from a cache of earlier runs.

``@dataclass`` writes the source of a class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` and ``exec``\\ s each: a small scan creates
~55 dataclasses (the model, locations, policy, rules, engine, typer's own), ~280 sources,
and compiling them is ~25 ms of its ~0.15 s. :func:`install` gives the ``dataclasses``
module an ``exec`` of its own that takes the code object compiled from the same source text
in an earlier run (kept in one file in the cache folder, keyed by Python's exact version
and optimisation level) and compiles only what it has not seen. The code is the one ``compile``
makes: the classes, their methods and their behaviour do not change. The command line
installs it first thing (:func:`leakscan.cli.main`); anything unexpected (a damaged file, a
read-only cache folder) falls back to compiling. Imports nothing of leakscan but its cache
folder.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from leakscan.keptdict import KeptDict
from leakscan.paths import cache_dir

__all__ = ["install"]

#: a file holding more is started afresh (the program's ~110 dataclasses and typer's write ~650)
MAX_CODES = 5000


def _file() -> Path:
    python = f"{sys.implementation.name}-{sys.hexversion:x}"  # the micro version too
    return cache_dir() / f"dataclass-code-v1-{python}-O{sys.flags.optimize}.marshal"


#: source text -> its code object
codes: KeptDict[str, CodeType] = KeptDict(_file, marshal.dumps, marshal.loads, MAX_CODES)
_installed = False


def install() -> None:
    """From here on, ``dataclasses`` compiles the methods it writes through the cache
    (once per process; the new ones are written to the file at exit)."""
    global _installed
    if _installed:
        return
    _installed = True
    # dataclasses looks ``exec`` up in its module's globals first, then in builtins
    setattr(dataclasses, "exec", _exec)  # noqa: B010


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    if isinstance(source, str):
        code = codes.get(source)
        if not isinstance(code, CodeType):  # not seen (or a foreign file's entry)
            # dont_inherit: compiled with no __future__ flag, as dataclasses' own exec does
            # (this module's ``annotations`` would turn the methods' annotations to strings)
            code = compile(source, "<string>", "exec", dont_inherit=True)
            codes.add(source, code)
        source = code
    builtins.exec(source, globals, locals)
