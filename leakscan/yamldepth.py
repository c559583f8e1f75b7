"""How deep a YAML text nests, found without recursion, before any loader composes it.

libyaml's scanner and parser are iterative, but PyYAML's C composer recurses once per level of
nesting with no guard: ``a: [[[[…]]]]`` 60 000 levels deep overflows the C stack and kills the
process (SIGSEGV), and ``sys.setrecursionlimit`` cannot help. ``check_depth(text, limit)``
raises :class:`TooDeep` for a text that nests deeper than ``limit``, so no loader ever sees it.

Two steps, the first one cheap:

1. An upper bound from the text alone (pure Python, no parsing): a block collection needs its
   own indentation column, which lies within the line's leading run of blanks and indicators
   (``-``, ``?``, ``:``), and an indentless sequence shares its mapping's column, so block
   nesting is at most ``2 * (longest leading run + 1)``; flow nesting is at most the number of
   ``[`` and ``{`` in the text. Almost every real file is under the limit here.
2. Otherwise the exact depth from the parser's events (iterative, stopped at the first event
   past the limit, so a hostile text costs ``limit`` events, not millions).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: the safe loader, libyaml's when it is there
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_LEAD = re.compile(r"^[ \t?:-]*", re.MULTILINE)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class TooDeep(ValueError):
    """The text nests deeper than the limit (the message says how deep, one line)."""


def depth_bound(text: str) -> int:
    """An upper bound on the nesting depth of ``text`` read as YAML (or JSON)."""
    lead = max((len(m.group()) for m in _LEAD.finditer(text)), default=0)
    return 2 * (lead + 1) + text.count("[") + text.count("{")


def check_depth(text: str, limit: int, loader: Any) -> None:
    """Raise :class:`TooDeep` when ``text`` nests deeper than ``limit`` collections.

    ``loader`` is the PyYAML loader class that will read the text (its parser gives the events).
    Invalid YAML is left to the loader to report, except nesting found before the error.
    """
    if depth_bound(text) <= limit:
        return
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, _OPEN):
                depth += 1
                if depth > limit:
                    raise TooDeep(f"nested deeper than {limit} levels")
            elif isinstance(event, _CLOSE):
                depth -= 1
    except yaml.YAMLError:
        return  # the loader reports the syntax error itself
