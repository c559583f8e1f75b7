"""A private ``LEAKSCAN_CACHE_DIR`` that starts with the compiled rules already in it.

A test that gives a leakscan process a cache dir of its own (to check what the process writes
there, or to keep it apart) would otherwise compile the builtin rules again in that process:
about 4 s of CPU each time. :func:`seeded_cache` links the compiled databases of the builtin
rules, alone and with the test rules of ``tests.helpers.write_rules``, into a new folder; the
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
def _template() -> tuple[Path, tuple[Path, ...]]:
    """The cache files to seed: compiled rule sets, the decoders' database, parsed rule files.

    They are compiled once into the session's own cache (``cache_dir()`` as the suite runs,
    where they usually are already) and picked out by the rule ids their plan lists."""
    from leakscan.engine.detector import Detector
    from leakscan.paths import cache_dir
    from leakscan.rules.loader import load_rules
    from tests.helpers import write_rules

    main = cache_dir()
    wanted: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for paths in ([], [write_rules(Path(tmp) / "rules")]):
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
    return main, tuple(files)


def seeded_cache(dest: Path) -> Path:
    """``dest`` made a cache dir holding the compiled builtin (and test) rules; returned."""
    dest.mkdir(parents=True, exist_ok=True)
    main, files = _template()
    for src in files:
        _link(src, dest / src.relative_to(main))
    return dest
