"""What a blob adds to the version it replaced: the changed lines, with line numbers kept.

A commit that edits one line of a file writes a new blob that is otherwise the old one. Every
line of the old blob has been scanned already (in that blob, or in the one before it, down to
the version that added the file, which is scanned whole), so of the new blob only the lines
between the first and the last change need scanning. The rest of the blob is replaced by its
newline characters, so line and column numbers of what is found stay those of the real file,
and the finding is placed at the commit that really wrote the line, not at every later edit.

``changed_span`` finds that span (common prefix and suffix, compared in C-sized steps);
``delta`` decides what of a blob to scan; ``BaseCache`` keeps the bytes of blobs that later
blobs are compared with, no longer than they are needed and within a memory budget.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate, compress, islice
from operator import not_

_STEP = 4096
# context scanned above a changed line, for rules that reach back over lines (a key, its
# value on the next line; ``users:`` some lines above a kubeconfig ``token:``)
CONTEXT = 2  # lines at least
CONTEXT_BYTES = 768  # and every line starting within this many bytes (the widest
# built-in multi-line rule, a kubeconfig token, looks 607 bytes back)

# Contents that span many lines (PEM blocks, PuTTY and SSH2 keys) are found only when
# scanned whole.
MULTILINE_MARKERS = (b"-----BEGIN ", b"---- BEGIN SSH2", b"PuTTY-User-Key-File-")


def _prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    i = 0
    while i < n:
        j = min(i + _STEP, n)
        if a[i:j] != b[i:j]:
            lo, hi = i, j  # a[:lo] == b[:lo], a[:hi] != b[:hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[lo:mid] == b[lo:mid]:
                    lo = mid
                else:
                    hi = mid
            return lo
        i = j
    return n


def _suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common suffix of ``a`` and ``b``, at most ``limit``."""
    la, lb = len(a), len(b)
    i = 0
    while i < limit:
        j = min(i + _STEP, limit)
        if a[la - j : la - i] != b[lb - j : lb - i]:
            lo, hi = i, j  # common suffix of length lo, not of length hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
                    lo = mid
                else:
                    hi = mid
            return lo
        i = j
    return limit


def changed_span(old: bytes, new: bytes) -> tuple[int, int]:
    """The byte span of ``new``, widened to whole lines, that differs from ``old``.

    Outside the span ``new`` is byte for byte a prefix or suffix of ``old``. The line holding
    the first change and the line holding the last are always inside (also for a pure deletion,
    which can join two lines into one).
    """
    start = _prefix(old, new)
    tail = _suffix(old, new, min(len(old), len(new)) - start)
    end = len(new) - tail
    line_start = new.rfind(b"\n", 0, start) + 1
    line_end = new.find(b"\n", max(end, start))
    return line_start, len(new) if line_end < 0 else line_end


def _wide(data: bytes) -> bool:
    """UTF-16/32 text (a BOM, or NUL bytes early on): the detector transcodes it whole."""
    return data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]


def multiline(data: bytes) -> bool:
    """Whether ``data`` holds content that is found only when scanned whole (a PEM block)."""
    a, b, c = MULTILINE_MARKERS  # unrolled: this runs on every blob
    return a in data or b in data or c in data


@dataclass(frozen=True, slots=True)
class Base:
    """A blob kept to compare its successors with."""

    data: bytes
    multiline: bool


@dataclass(frozen=True, slots=True)
class Part:
    """What is scanned of a blob: its changed lines and the context above each (see
    ``CONTEXT_BYTES``), the rest blanked; only matches on ``lines`` (1-based, the changed
    ones) are the blob's: the context lines were scanned before."""

    data: bytes
    lines: frozenset[int]


def delta(old: Base | None, new: bytes) -> tuple[Part | None, Base]:
    """What to scan of ``new`` (``None``: all of it) and ``new`` as a base for later blobs.

    Lines of the changed span that ``old`` also holds there are not changed lines. The blob
    is scanned whole when a multi-line secret could be cut by the mask (when ``old`` holds
    no such marker, ``new`` can hold one only inside the span, so the whole blob is
    searched only when needed) and when it is UTF-16/32 text.
    """
    if old is None or _wide(new):  # UTF-16/32: lines are not split on single bytes
        return None, Base(new, multiline(new))
    if _part is None:
        return _delta_py(old, new)
    found = _part(old.data, new, old.multiline, CONTEXT, CONTEXT_BYTES, MULTILINE_MARKERS)
    if found is None:  # a multi-line marker: scanned whole
        return None, Base(new, True)
    return Part(*found), Base(new, False)


def _compiled() -> Callable[..., tuple[bytes, frozenset[int]] | None] | None:
    """``_delta.part``: ``_delta_py`` in C (a few times faster), built by ``make install``
    where a C compiler is; ``None`` where it is not built."""
    try:
        from leakscan.sources.git._delta import part
    except ImportError:
        return None
    return part


_part = _compiled()


def _delta_py(old: Base, new: bytes) -> tuple[Part | None, Base]:
    """``delta`` of an edit, in Python: the specification of ``_delta.part``, used where
    that is not built."""
    start, end = changed_span(old.data, new)
    span = new[start:end]
    marker = multiline(new) if old.multiline else multiline(span)
    as_base = Base(new, marker)
    if marker:
        return None, as_base
    first = new.count(b"\n", 0, start)  # the span's first line, 0-based
    above = _context_start(new, start)
    skip = new.count(b"\n", above, start)  # context lines above the span
    lines = new[above:end].split(b"\n")
    # a line the old text also held there is not a change (a junction line, a line between
    # two edits far apart)
    old_middle = old.data[start : len(old.data) - (len(new) - end)]
    before = set(old_middle.split(b"\n")) if old_middle else set()
    # the indexes (from ``skip`` on) of lines ``before`` lacks, without a loop per line
    held = map(before.__contains__, islice(lines, skip, None))
    changed = list(compress(range(skip, len(lines)), map(not_, held)))
    if len(changed) == len(lines) - skip:  # the usual edit: every line of the span is new
        region = new[above:end]
    else:
        region = b"\n".join(_with_context(lines, changed))
    lead = first - skip
    return Part(b"\n" * lead + region, frozenset([lead + i + 1 for i in changed])), as_base


def _context_start(data: bytes, start: int) -> int:
    """Where the context above the line at ``start`` begins: the line holding the byte
    ``CONTEXT_BYTES`` before it, and at least ``CONTEXT`` lines up."""
    floor = max(0, start - CONTEXT_BYTES)
    above = data.rfind(b"\n", 0, floor) + 1 if floor > 0 else 0
    lines_up = start
    for _ in range(CONTEXT):
        if lines_up <= 0:
            break
        lines_up = data.rfind(b"\n", 0, lines_up - 1) + 1
    return min(above, lines_up)


def _with_context(lines: list[bytes], changed: list[int]) -> list[bytes]:
    """``lines`` with only the changed ones (ascending) and their context above kept (lines
    starting within ``CONTEXT_BYTES``, and at least ``CONTEXT`` lines); the others empty."""
    out = [b""] * len(lines)
    if not changed:
        return out
    # ends[k]: where line k starts, counted from line 0 (its bytes and newlines above it;
    # C-level, no loop per line); it grows with k
    ends = list(accumulate(map((1).__add__, map(len, lines[: changed[-1] + 1])), initial=0))
    first = done = 0  # the first line of the current context; lines below ``done`` are in
    for i in changed:  # a line's context starts no higher than the one of a line above it
        if i == done:  # right below a line kept: its context is kept already
            out[i] = lines[i]
            done = i + 1
            continue
        # the context: at least CONTEXT lines up, and every line starting within
        # CONTEXT_BYTES above line i (the first line whose start is that near)
        near = bisect_left(ends, ends[i] - CONTEXT_BYTES, 0, i)
        first = max(first, min(i - CONTEXT, near))
        lo = max(first, done)
        out[lo : i + 1] = lines[lo : i + 1]
        done = i + 1
    return out


class BaseCache:
    """Bytes of the blobs that later blobs are compared with.

    ``uses`` counts, per base blob, the blobs still to come that are compared with it; a base
    is dropped after its last use. Beyond ``budget`` bytes a base is not kept (its successors
    are then scanned whole: slower, never less complete).
    """

    def __init__(self, uses: Iterable[str], budget: int) -> None:
        self._uses = Counter(uses)
        self._budget = budget
        self._held = 0
        self._data: dict[str, Base] = {}

    def wanted(self, oid: str) -> bool:
        return self._uses[oid] > 0

    def keep(self, oid: str, base: Base) -> None:
        size = len(base.data)
        if self._uses[oid] > 0 and oid not in self._data and self._held + size <= self._budget:
            self._data[oid] = base
            self._held += size

    def take(self, oid: str) -> Base | None:
        """The base's bytes (``None`` when not kept); counts one use."""
        data = self._data.get(oid)
        left = self._uses[oid] - 1
        if left > 0:
            self._uses[oid] = left
        else:
            self._uses.pop(oid, None)
            if data is not None:
                del self._data[oid]
                self._held -= len(data.data)
        return data
