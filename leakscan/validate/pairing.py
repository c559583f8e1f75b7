"""The other half of a credential pair, found in the same place.

An AWS access key id proves nothing alone: its secret access key is needed, and the one that
belongs to it is the one found *in the same place* (the same file of the same layer, the same
commit's file, the same env). Findings are grouped by secret and carry locations, so a pair
is two findings sharing a location's provenance; the nearest line wins. A provenance that is
one value of a larger whole (an env variable, an image config field, a manifest key) is placed
at that whole: ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` of one image's config pair.
"""

from __future__ import annotations

from collections.abc import Iterable

from leakscan.model import Finding, Location

#: provenance fields that name one value inside a place, not the place
_VALUE_FIELDS = frozenset({"name", "field", "key"})


def _place(location: Location) -> tuple[object, ...]:
    fields = location.provenance.fields
    kept = sorted((k, str(v)) for k, v in fields.items() if k not in _VALUE_FIELDS)
    return (location.provenance.kind, tuple(kept))


class PairIndex:
    def __init__(self, findings: Iterable[Finding]) -> None:
        self._by_place: dict[tuple[object, ...], list[tuple[Finding, Location]]] = {}
        for finding in findings:
            for loc in finding.locations:
                self._by_place.setdefault(_place(loc), []).append((finding, loc))

    def partners(self, finding: Finding, rule_id: str) -> list[Finding]:
        """Findings of ``rule_id`` sharing a place with ``finding``, nearest line first."""
        scored: dict[str, tuple[int, Finding]] = {}
        for loc in finding.locations:
            for other, other_loc in self._by_place.get(_place(loc), ()):
                if other.rule_id != rule_id or other is finding:
                    continue
                distance = abs((loc.line or 0) - (other_loc.line or 0))
                best = scored.get(other.fingerprint)
                if best is None or distance < best[0]:
                    scored[other.fingerprint] = (distance, other)
        return [f for _, f in sorted(scored.values(), key=lambda item: item[0])]
