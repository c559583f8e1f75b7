"""Commit and tag objects: who, when, and the message (headers and signatures left out)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_PERSON = re.compile(rb"^(?P<who>.*?) (?P<ts>-?\d+) (?P<tz>[+-]\d{4})$")
_TS = re.compile(rb"-?\d+")
_TZ = re.compile(rb"[+-]\d{4}")


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """The parts of a commit or tag object a report needs."""

    person: str | None  # "Name <email>" of the author (commit) or tagger (tag)
    date: str | None  # ISO 8601 with the person's offset
    time: int  # committer (commit) or tagger (tag) time, seconds since the epoch
    message: bytes


def parse_object(raw: bytes) -> ObjectInfo:
    """Headers up to the first blank line, then the message."""
    head, _, message = raw.partition(b"\n\n")
    person = date = None
    when = 0
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key in (b"author", b"tagger") and person is None:
            person, date, when = _person(value)
        elif key == b"committer":
            when = _time(value)
    return ObjectInfo(person, date, when, _strip_signature(message))


def _person(value: bytes) -> tuple[str | None, str | None, int]:
    m = _PERSON.match(value)
    if not m:
        return value.decode("utf-8", "replace") or None, None, 0
    ts = int(m["ts"])
    tz = m["tz"].decode()
    offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
    if tz[0] == "-":
        offset = -offset
    try:
        date = datetime.fromtimestamp(ts, timezone(offset)).isoformat()
    except (OverflowError, OSError, ValueError):
        date = None
    return m["who"].decode("utf-8", "replace"), date, ts


def _time(value: bytes) -> int:
    """The time of a person line, as :func:`_person` reads it (0: none)."""
    parts = value.rsplit(b" ", 2)
    if len(parts) != 3 or _TZ.fullmatch(parts[2]) is None or _TS.fullmatch(parts[1]) is None:
        return 0
    return int(parts[1])


def _strip_signature(message: bytes) -> bytes:
    """A tag message without its trailing PGP/SSH signature block."""
    for marker in (b"-----BEGIN PGP SIGNATURE-----", b"-----BEGIN SSH SIGNATURE-----"):
        at = message.find(marker)
        if at >= 0:
            return message[:at]
    return message
