"""Encoded content found inside a blob, decoded so it can be scanned again.

Each decoder turns the region around a trigger into ``(start, decoded bytes)`` pairs; the
detector scans the decoded bytes (to a bounded depth) and reports matches at ``start``.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from collections.abc import Iterator

B64_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
HEX_BYTES = b"0123456789abcdefABCDEF"
B64_CHARS = frozenset(B64_BYTES)
_NOT_PRINTABLE = bytes(b for b in range(256) if not (32 <= b < 127 or b in (9, 10, 13)))
MAX_DECODED = 1024 * 1024  # bytes of decoded content per region
_UNICODE_ESCAPE = re.compile(rb"\\u([0-9A-Fa-f]{4})")


def printable_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    return len(data.translate(None, _NOT_PRINTABLE)) / len(data)


def looks_textual(data: bytes) -> bool:
    return len(data) >= 8 and printable_ratio(data) >= 0.9


def _run_start(data: bytes, stop: int, alphabet: bytes) -> int:
    """Where the run of ``alphabet`` bytes ending at ``stop`` starts (at most MAX_DECODED)."""
    size = 256
    while True:  # look back in growing windows: most runs are short
        lo = max(0, stop - size)
        window = data[lo:stop]
        run = len(window) - len(window.rstrip(alphabet))
        if run < len(window) or lo == 0 or size >= MAX_DECODED:
            return stop - run
        size *= 16


# The first character of each 4-character group holds the top six bits of a byte: for a
# byte below 0x80 it is one of these. Every group starting otherwise decodes to a byte that
# is not printable text.
_TEXT_GROUP_START = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


def _may_be_text(run: bytes) -> bool:
    """False when ``run`` cannot decode to text that :func:`looks_textual` accepts: over 30%
    of its groups start with a byte >= 0x80, i.e. over 10% of the decoded bytes are not text.
    (A path such as ``usr/lib/python3/dist`` is settled here, without decoding.)"""
    starts = run[::4]
    bad = len(starts.translate(None, _TEXT_GROUP_START))
    return bad * 10 <= len(starts) * 3


def base64_run(data: bytes, end: int) -> tuple[int, bytes] | None:
    """The base64 run ending just before ``end`` (its delimiter), decoded when it is text."""
    stop = end
    while stop > 0 and data[stop - 1] == 0x3D:  # '='
        stop -= 1
    # most runs are short identifiers (``ResourceNotFoundException``): settle those from a
    # small window before looking further back
    lo = stop - 40 if stop > 40 else 0
    window = data[lo:stop]
    short = len(window.rstrip(B64_BYTES))
    if short or lo == 0:  # the run starts inside the window
        start = lo + short
        if end - start < 20 or (end - start < 40 and window[short:].isalpha()):
            return None
    else:
        start = _run_start(data, stop, B64_BYTES)
    return _decoded_base64(data, start, stop, end)


def _decoded_base64(data: bytes, start: int, stop: int, end: int) -> tuple[int, bytes] | None:
    """The run ``data[start:end]`` (``=`` from ``stop`` on) decoded, when it is text."""
    run = data[start:end]
    if len(run) < 20:
        return None
    if len(run) < 40 and run[: stop - start].isalpha():
        # a word or identifier (72% of runs in a Python install); base64 of 15-30 bytes of
        # text has a digit, '+' or '/' with a probability of 98% or more
        return None
    if not _may_be_text(run[: stop - start]):
        return None
    padded = run + b"=" * (-len(run) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return (start, decoded) if looks_textual(decoded) else None


def hex_run(data: bytes, end: int) -> tuple[int, bytes] | None:
    start = _run_start(data, end, HEX_BYTES)
    run = data[start:end]
    if len(run) < 32 or len(run) % 2:
        return None
    # a byte whose high nibble is not 0 or 2-7 is not text: with over 10% of them the decoded
    # bytes cannot pass ``looks_textual`` (random hex is settled here, without decoding)
    if len(run[0::2].translate(None, b"0234567")) * 20 > len(run):
        return None
    try:
        decoded = bytes.fromhex(run.decode("ascii"))
    except ValueError:
        return None
    return (start, decoded) if looks_textual(decoded) else None


_HEX_RUN = re.compile(rb"[0-9a-fA-F]{32,}")


def _core_start(data: bytes, stop: int) -> int:
    """Where the run of base64 bytes ending at ``stop`` starts (however long it is)."""
    size = 64
    while True:
        lo = max(0, stop - size)
        window = data[lo:stop]
        head = len(window.rstrip(B64_BYTES))
        if head or lo == 0:
            return lo + head
        size *= 16


def encoded_runs(
    data: bytes, stops: list[int]
) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """The decoded base64 and hex regions (``(start, decoded)``, in the order of their ends)
    of the runs of base64 bytes that end at ``stops`` (the byte after each run), and of the
    run that ends ``data``.

    A base64 run is judged where it ends (after at most two ``=``) at a byte that is neither
    base64 nor ``=``, or at the end of ``data``; a hex run (32+ digits, always inside a base64
    run) wherever it ends.
    """
    b64_out: list[tuple[int, bytes]] = []
    hex_out: list[tuple[int, bytes]] = []
    size = len(data)
    for stop in stops:  # (one look-back per run: these are 500 a MB in minified code)
        lo = stop - 64 if stop > 64 else 0
        window = data[lo:stop]
        head = len(window.rstrip(B64_BYTES))
        start = lo + head if head or not lo else _core_start(data, stop)
        # base64: judged at the delimiter after at most two '='
        end = stop
        if data[stop] == 0x3D:  # padding
            end = stop + 2 if stop + 1 < size and data[stop + 1] == 0x3D else stop + 1
            if end >= size or data[end] in B64_CHARS or data[end] == 0x3D:
                end = -1
        if end >= 0 and not (end - start < 40 and window[head:].isalpha()):
            # (a run longer than the window is never settled by ``isalpha``)
            got = _decoded_base64(data, max(start, stop - MAX_DECODED), stop, end)
            if got:
                b64_out.append(got)
        if stop - start >= 32:
            _hex_runs(data, start, stop, hex_out)
    if data and (data[-1] in B64_CHARS or data[-1] == 0x3D):  # a run that ends the data
        got = base64_run(data, size)
        if got:
            b64_out.append(got)
        _hex_runs(data, _core_start(data, size), size, hex_out)
    return b64_out, hex_out


def _hex_runs(data: bytes, start: int, stop: int, out: list[tuple[int, bytes]]) -> None:
    """Add the decoded hex runs (32+ digits) found in ``data[start:stop]`` to ``out``."""
    m = _HEX_RUN.search(data, start, stop)
    while m:
        got = hex_run(data, m.end())
        if got:
            out.append(got)
        m = _HEX_RUN.search(data, m.end(), stop)


def _lines_with(data: bytes, needle: bytes, limit: int = 200) -> Iterator[tuple[int, bytes]]:
    pos = data.find(needle)
    seen = 0
    while pos != -1 and seen < limit:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        end = len(data) if end == -1 else end
        yield start, data[start:end]
        seen += 1
        pos = data.find(needle, end)


_URL_ESCAPE = re.compile(rb"%(?:2[0-9A-F]|3[A-F]|40|5[BDE]|7[BCD])")


def percent_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Lines with URL-encoded punctuation (``%3D``, ``%2F``, ``%40``), decoded.

    Uppercase escapes of punctuation only: ``%2d`` and ``%5s`` are format strings in code.
    """
    for start, line in _lines_with(data, b"%"):
        if _URL_ESCAPE.search(line):
            yield start, urllib.parse.unquote_to_bytes(line)


def unicode_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for start, line in _lines_with(data, b"\\u00"):
        decoded = _UNICODE_ESCAPE.sub(
            lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"), line
        )
        if decoded != line:
            yield start, decoded


_MAX_BAD_UNITS = 16  # undecodable units a UTF-16/32 text may hold (or one per 1000)


def transcode(data: bytes) -> bytes:
    """UTF-16/32 text (with a BOM, or with the telltale NUL pattern) as UTF-8."""
    if data.find(b"\x00", 0, 4096) < 0 and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data  # (``find`` with bounds: no copy of the first 4 KB)
    head = data[:4]
    encoding = None
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif len(data) >= 8:
        sample = data[:4096]
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            encoding = "utf-16-le"
        elif even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            encoding = "utf-16-be"
    if encoding is None:
        return data
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        pass
    # a stray byte (a cut-off last unit, a lone surrogate) spoils only itself: it becomes
    # U+FFFD; text with more than a few such spots was not UTF-16/32 after all
    text = data.decode(encoding, "replace")
    if text.count("\ufffd") > max(_MAX_BAD_UNITS, len(text) // 1000):
        return data
    return text.encode("utf-8")
