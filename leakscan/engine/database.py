"""All rules compiled into one Hyperscan database, cached on disk by the rules' digest; the
decoders' triggers in a second, small one.

Hyperscan finds *where* (end offsets); ``regex`` then captures precisely around each hit.
Each rule goes in as its full pattern when Hyperscan takes it, else as a prefilter
approximation (its own ``prefilter`` pattern, else ``HS_FLAG_PREFILTER``), else through its
keywords (literal, caseless). A rule's ``prefilter`` replaces a pattern that Hyperscan takes
but runs slowly: one pattern without a literal to anchor on costs every blob more than a
hundred patterns with one.
Rules with a ``context`` are not in the database: they run on structured values only.

The decoders' triggers (runs of base64 and hex, escapes) have no literal either: in the rules'
database they slow every rule's automata down (2.7 ms/MB for both together over the stdlib,
against 0.9 + 1.4 ms/MB as two databases scanned one after the other).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import hyperscan
import regex

from leakscan.lazyregex import lazy
from leakscan.paths import cache_dir, write_atomic
from leakscan.rules.spec import Rule

log = logging.getLogger(__name__)

FULL = "full"  # the rule's own pattern
PREFILTER = "prefilter"  # a superset of the pattern
KEYWORD = "keyword"  # one of the rule's keywords
CONTEXT = "context"  # not in the database: runs on structured values only


def _run_trigger() -> bytes:
    """Runs of base64 characters the decoders may take, reported at the byte after the run:
    32 characters or more (a hex run of 32+ lies in one), or 20+ with a digit, ``+`` or ``/``
    among them. A shorter run of letters only is an identifier (``ResourceNotFoundException``)
    that the base64 decoder turns down anyway (under 40 characters with its padding); in
    minified JS and API models such runs are three in four. The base64 and hex runs are told
    apart in Python (``decoders.encoded_runs``): a second pattern for hex runs cost as much
    Hyperscan time as this one, for 2% of the triggers."""
    b64 = "[A-Za-z0-9+/]"
    windows = "|".join(  # 20 characters, the one at i not a letter
        (f"{b64}{{{i}}}" if i else "") + "[0-9+/]" + (f"{b64}{{{19 - i}}}" if i < 19 else "")
        for i in range(20)
    )
    return f"(?:{b64}{{32}}|{windows}){b64}*[^A-Za-z0-9+/]".encode()


# content that the decoders look at (runs of base64 / hex, percent and \u escapes); a run
# ends at a delimiter, so each run reports one end offset
DECODER_PATTERNS = {
    "run": _run_trigger(),
    "percent": rb"%(?:2[0-9A-F]|3[A-F]|40|5[BDE]|7[BCD])",  # URL-encoded punctuation
    "unicode": rb"\\u00[0-7][0-9A-Fa-f]",  # escaped ASCII, as JSON encoders write = + / < >
}
SINGLE = {"percent", "unicode"}
DECODER_NAMES = tuple(DECODER_PATTERNS)  # by pattern id in the decoders' database
RUN = DECODER_NAMES.index("run")

RunEnds = Callable[[bytes, int], list[int]]


def _compiled_runs() -> RunEnds | None:
    """``_runs.run_ends``: the run trigger in C (0.12 s over the bench image's 439 MB of text,
    against 0.8 s in Hyperscan), leaving out the runs the decoders would turn down without
    decoding (nine in ten), built by ``make install`` where a C compiler is; ``None`` where
    it is not (the trigger is then in the decoders' database)."""
    try:
        from leakscan.engine._runs import run_ends
    except ImportError:
        return None
    return run_ends


#: how the runs are found in rules compiled from now on (tests set None: by Hyperscan)
run_ends = _compiled_runs()
_LAYOUT = b"rules-only-2"  # what the cached rules' database holds (decoders apart)


@dataclass(frozen=True, slots=True)
class Entry:
    rule_index: int  # -1 for decoder triggers
    how: str  # FULL, PREFILTER, KEYWORD or a decoder name


def _hs_flags(rule: Rule, how: str) -> int:
    flags = 0
    if rule.ignore_case or how == KEYWORD:
        flags |= hyperscan.HS_FLAG_CASELESS
    if how == PREFILTER and not rule.prefilter:
        flags |= hyperscan.HS_FLAG_PREFILTER
    return flags


_NAMED_GROUP = lazy(globals(), r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")
_WIDE_REPEAT = lazy(globals(), r"(?<!\\)\{(\d+),(\d+)\}\??")
WIDE = 64  # bounded repeats at least this wide become open-ended in the Hyperscan pass


def _open_wide_repeat(m: regex.Match[str]) -> str:
    return f"{{{m.group(1)},}}" if int(m.group(2)) >= WIDE else m.group(0)


def _hs_pattern(rule: Rule, how: str = FULL) -> bytes:
    """The rule's pattern (or its own prefilter) as Hyperscan takes it, as a superset of the
    precise pattern.

    Named groups become plain groups (same matches). Wide bounded repeats (``[\\s\\S]{64,9000}``)
    become open-ended: Hyperscan compiles them in a fraction of the time and memory, and the
    precise ``regex`` pass, bounded by ``max_length``, still decides what matches.
    """
    source = rule.prefilter if how == PREFILTER and rule.prefilter else rule.pattern
    pattern = _NAMED_GROUP.sub("(", source)
    return str(_WIDE_REPEAT.sub(_open_wide_repeat, pattern)).encode()


def _compiles(expression: bytes, flags: int) -> bool:
    db = hyperscan.Database()
    try:
        db.compile(expressions=[expression], ids=[0], elements=1, flags=[flags])
    except hyperscan.error:
        return False
    return True


def _probe(rule: Rule) -> str:
    """How one rule goes into the database: its pattern, a prefilter, or its keywords."""
    if rule.prefilter and _compiles(_hs_pattern(rule, PREFILTER), _hs_flags(rule, PREFILTER)):
        return PREFILTER
    pattern = _hs_pattern(rule)
    if _compiles(pattern, _hs_flags(rule, FULL)):
        return FULL
    if not rule.prefilter and _compiles(pattern, _hs_flags(rule, PREFILTER)):
        return PREFILTER
    return KEYWORD


# syntax Hyperscan does not take as written: lookarounds, atomic groups, backreferences,
# possessive repeats, conditionals. Such a rule goes in as a prefilter from the start.
_UNSUPPORTED = lazy(globals(), r"\(\?(?:=|!|<=|<!|>)|\\[1-9]|[*+?}]\+|\(\?\(")


def _first_guess(rule: Rule) -> str:
    """The mode to try first: one compile of all rules usually settles it, where probing
    every rule one by one costs a compile each (~7 s for 600 rules on a fresh cache)."""
    if rule.context:
        return CONTEXT
    return PREFILTER if rule.prefilter or _UNSUPPORTED.search(rule.pattern) else FULL


@dataclass(slots=True)
class CompiledRules:
    database: hyperscan.Database | None  # None when no rule goes into it (context rules only)
    entries: list[Entry]
    modes: dict[str, str]  # rule id -> FULL / PREFILTER / KEYWORD / CONTEXT
    decoders: hyperscan.Database  # the decoders' triggers, ids index DECODER_NAMES
    run_ends: RunEnds | None  # the runs in C (then not in ``decoders``)


def _entries(rules: Sequence[Rule], modes: dict[str, str]) -> list[Entry]:
    """The database's entries for rules in the given modes: one a rule, one a keyword of a
    rule in KEYWORD mode, none for CONTEXT (all a database loaded from the cache needs)."""
    entries: list[Entry] = []
    for index, rule in enumerate(rules):
        how = modes[rule.id]
        if how == KEYWORD:
            entries.extend(Entry(index, KEYWORD) for _ in rule.keywords)
        elif how != CONTEXT:
            entries.append(Entry(index, how))
    return entries


def _assemble(
    rules: Sequence[Rule], modes: dict[str, str]
) -> tuple[list[bytes], list[int], list[Entry]]:
    """The database's expressions, flags and entries (:func:`_entries`) for rules in the
    given modes."""
    entries = _entries(rules, modes)
    expressions: list[bytes] = []
    flags: list[int] = []
    for index, _ in groupby(entry.rule_index for entry in entries):  # a rule's entries in a row
        rule = rules[index]
        how = modes[rule.id]
        if how == KEYWORD:
            own = [regex.escape(keyword).encode() for keyword in rule.keywords]
        else:
            own = [_hs_pattern(rule, how)]
        expressions += own
        flags += [_hs_flags(rule, how)] * len(own)
    return expressions, flags, entries


def _compile(expressions: list[bytes], flags: list[int]) -> hyperscan.Database | None:
    if not expressions:
        return None
    database = hyperscan.Database()
    database.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=flags,
    )
    return database


def compile_rules(rules: Sequence[Rule], digest: str, use_cache: bool = True) -> CompiledRules:
    """Compile (or load from the cache) the database of ``rules``.

    The usual case costs one compile: every pattern as written, except those whose syntax
    Hyperscan cannot take (they go in as prefilters). Only when that fails is each rule probed
    for the mode Hyperscan takes it in (prefilter, keywords), then compiled again.
    """
    engine_version = str(getattr(hyperscan, "__version__", "")).encode()
    # the database's pattern ids follow the rules' order, which the digest does not see
    order = "\n".join(rule.id for rule in rules).encode()
    plan_key = hashlib.sha256(digest.encode() + engine_version + order + _LAYOUT).hexdigest()[:32]
    cache_file = cache_dir() / f"hsdb-{plan_key}.bin"
    plan_file = cache_dir() / f"hsdb-{plan_key}.plan"
    if use_cache and plan_file.exists() and cache_file.exists():
        try:
            modes = dict(line.split("\t", 1) for line in plan_file.read_text().splitlines() if line)
            if all(rule.id in modes for rule in rules):
                loaded = hyperscan.loadb(cache_file.read_bytes(), hyperscan.HS_MODE_BLOCK)
                entries = _entries(rules, modes)
                return CompiledRules(loaded, entries, modes, *_decoders(use_cache))
        except (OSError, ValueError, hyperscan.error):
            pass  # a damaged cache: compile again
    modes = {rule.id: _first_guess(rule) for rule in rules}
    expressions, flags, entries = _assemble(rules, modes)
    try:
        database = _compile(expressions, flags)
    except hyperscan.error:
        modes = {rule.id: CONTEXT if rule.context else _probe(rule) for rule in rules}
        expressions, flags, entries = _assemble(rules, modes)
        database = _compile(expressions, flags)
    if use_cache and database is not None:
        _save(cache_file, plan_file, database, modes)
    return CompiledRules(database, entries, modes, *_decoders(use_cache))


def _decoders(use_cache: bool) -> tuple[hyperscan.Database, RunEnds | None]:
    """The decoders' database, and the C run trigger when it is built (then the database
    holds the other triggers only)."""
    runs = run_ends
    return decoder_database(use_cache, with_run=runs is None), runs


def decoder_database(use_cache: bool = True, with_run: bool = True) -> hyperscan.Database:
    """The decoders' triggers compiled (16 ms), or loaded from the cache (under 1 ms);
    ``with_run``: the run trigger too."""
    names = [name for name in DECODER_NAMES if with_run or name != "run"]
    patterns = {name: DECODER_PATTERNS[name] for name in names}
    engine_version = str(getattr(hyperscan, "__version__", "")).encode()
    key = hashlib.sha256(repr(patterns).encode() + engine_version).hexdigest()[:32]
    cache_file = cache_dir() / f"hsdec-{key}.bin"
    if use_cache and cache_file.exists():
        try:
            return hyperscan.loadb(cache_file.read_bytes(), hyperscan.HS_MODE_BLOCK)
        except (OSError, hyperscan.error):
            pass  # a damaged cache: compile again
    database = hyperscan.Database()
    database.compile(
        expressions=list(patterns.values()),
        ids=[DECODER_NAMES.index(name) for name in names],
        elements=len(names),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH if n in SINGLE else 0 for n in names],
    )
    if use_cache:
        _write(cache_file, hyperscan.dumpb(database))
    return database


def _write(path: Path, content: bytes) -> None:
    """Written aside and renamed: concurrent runs never read a half-written file."""
    try:
        write_atomic(path, content)
    except OSError as exc:  # a read-only home is fine: we compile every time
        log.debug("cannot cache a compiled database: %s", exc)


def _save(
    cache_file: Path, plan_file: Path, database: hyperscan.Database, modes: dict[str, str]
) -> None:
    _write(cache_file, hyperscan.dumpb(database))
    _write(plan_file, "".join(f"{k}\t{v}\n" for k, v in modes.items()).encode())
