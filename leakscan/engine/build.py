"""A detector from its settings: which rule files, which rules, and the engine's limits.

:class:`DetectorSettings` is frozen and picklable: it is the detector's identity in this
process's cache and the recipe a worker process rebuilds the detector from (calling it
builds, from the on-disk caches of parsed rules and compiled databases).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from leakscan.engine.detector import MAX_HITS_PER_RULE, MAX_REGIONS, Detector
from leakscan.rules.loader import load_rules
from leakscan.rules.spec import Rule

__all__ = ["DetectorSettings", "load_detector", "select_rules"]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    rule_paths: tuple[Path, ...] = ()
    include_builtin: bool = True
    enable: tuple[str, ...] = ()  # rule ids or globs; empty = all
    disable: tuple[str, ...] = ()
    decode_depth: int = 2
    regex_timeout: float = 1.0  # seconds per precise regex attempt
    max_hits_per_rule: int = MAX_HITS_PER_RULE  # per blob
    max_decoded_regions: int = MAX_REGIONS  # per blob

    def __call__(self) -> Detector:
        return load_detector(self)


_DETECTORS: dict[DetectorSettings, Detector] = {}


def select_rules(
    rules: Sequence[Rule], enable: Sequence[str], disable: Sequence[str]
) -> list[Rule]:
    """The rules whose id matches a glob of ``enable`` (all when empty) and none of ``disable``."""
    out = [r for r in rules if not enable or any(fnmatchcase(r.id, g) for g in enable)]
    return [r for r in out if not any(fnmatchcase(r.id, g) for g in disable)]


def load_detector(settings: DetectorSettings) -> Detector:
    """The detector for these settings (compiled once per process)."""
    if settings not in _DETECTORS:
        rules = load_rules(list(settings.rule_paths), include_builtin=settings.include_builtin)
        rules = select_rules(rules, settings.enable, settings.disable)
        _DETECTORS[settings] = Detector(
            rules,
            decode_depth=settings.decode_depth,
            regex_timeout=settings.regex_timeout,
            max_hits=settings.max_hits_per_rule,
            max_regions=settings.max_decoded_regions,
        )
    return _DETECTORS[settings]
