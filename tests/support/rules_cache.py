"""A private ``LEAKSCAN_CACHE_DIR`` that starts with the compiled rules already in it.

A test that gives a leakscan process a cache dir of its own (to check what the process writes
there, or to keep it apart) would otherwise compile the builtin rules again in that process:
about 4 s of CPU each time. :func:`seeded_cache` links the compiled databases of the builtin
rules, alone and with the test's own rule folders, into a new folder; the
process loads them, and everything it writes there is still its own (the cache writes files
aside and renames them, so a linked file is never written through).

A test about compiling (a cold cache) keeps an empty folder instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

__all__ = ["seeded_cache"]


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _plan_ids(plan: Path) -> list[str]:
    return [line.split("\t", 1)[0] for line in plan.read_text().splitlines() if line]


@functools.cache
def _main() -> Path:
    """The suite's own cache (``cache_dir()`` when first asked), where compiled rules stay."""
    from leakscan.paths import cache_dir

    return cache_dir()


@functools.cache
def _files(rule_dirs: tuple[Path, ...]) -> tuple[Path, ...]:
    """The cache files to seed for the builtin rules plus each of ``rule_dirs``: compiled
    rule sets, the decoders' database, parsed rule files.

    The rule sets are compiled into the suite's own cache once (usually they are there
    already) and picked out there by the rule ids their plans list."""
    from leakscan.engine.detector import Detector
    from leakscan.rules.loader import load_rules

    main = _main()
    wanted: list[list[str]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSCAN_CACHE_DIR", str(main))
        for paths in ([], *([d] for d in rule_dirs)):
            rules = load_rules(paths)
            Detector(rules, use_cache=True)
            wanted.append([rule.id for rule in rules])
    files: list[Path] = []
    for plan in main.glob("hsdb-*.plan"):
        database = plan.with_suffix(".bin")
        if database.exists() and _plan_ids(plan) in wanted:
            files += [plan, database]
    files += main.glob("hsdec-*.bin")
    files += (main / "rules").glob("*.pickle")
    return tuple(files)


@functools.cache
def _test_rules() -> Path:
    from tests.helpers import write_rules

    return write_rules(Path(tempfile.mkdtemp(prefix="leakscan-seed-")) / "rules")


def seeded_cache(dest: Path, *rule_dirs: Path) -> Path:
    """``dest`` made a cache dir holding the compiled builtin rules, alone and with the rules
    of each of ``rule_dirs`` (``tests.helpers.write_rules``'s when none is given); returned."""
    if not rule_dirs:
        rule_dirs = (_test_rules(),)
    dest.mkdir(parents=True, exist_ok=True)
    main = _main()
    for src in _files(tuple(rule_dirs)):
        _link(src, dest / src.relative_to(main))
    return dest
