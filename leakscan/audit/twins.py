"""Tags of one image: what a tag's scan placed, placed again under another tag's name.

Two tags whose manifest digest is the same are the same image: scanned, they find the same
secrets in the same places, and their findings differ only by the image's name (``image`` in a
location, the front of a skip's ``where``). An audit meeting a digest it has audited under
another tag (earlier in the run, or in the audit state) takes that tag's findings and swaps
the name instead of scanning the image again. Where the old name shows anywhere else, the
swap is not trusted and the tag is scanned.
"""

from __future__ import annotations

from typing import Any

from leakscan.store.audit_state import DoneTag

FIELDS = 8  # the provenance fields in a row of leakscan.audit.replay.rows


def retarget(done: DoneTag, old: str, new: str) -> DoneTag | None:
    """``done``, what the tag named ``old`` held, as the tag named ``new`` holds it; None when
    ``old`` appears where it cannot be swapped safely."""
    if old == new:
        return done
    locations: list[list[Any]] = []
    for row in done.locations:
        fields = row[FIELDS] if len(row) > FIELDS else None
        if not isinstance(fields, dict):
            return None
        moved = fields.get("image") == old
        rest = [v for k, v in fields.items() if not (moved and k == "image")]
        if _mentions(rest, old) or _mentions(row[:FIELDS] + row[FIELDS + 1 :], old):
            return None
        locations.append([*row[:FIELDS], {**fields, "image": new} if moved else fields,
                          *row[FIELDS + 1 :]])  # fmt: skip
    skips: list[list[str]] = []
    for where, reason in done.skips:
        if where == old or where.startswith(old + " "):
            where = new + where[len(old) :]
        elif old in where:
            return None
        if old in reason:
            return None
        skips.append([where, reason])
    return DoneTag(done.images, locations, skips)


def _mentions(values: list[Any], text: str) -> bool:
    """``text`` in any string of ``values`` (nested lists and mappings included)."""
    for v in values:
        if isinstance(v, str) and text in v:
            return True
        if isinstance(v, list | tuple) and _mentions(list(v), text):
            return True
        if isinstance(v, dict) and _mentions([*v.keys(), *v.values()], text):
            return True
    return False
