"""The detector: one Hyperscan pass over a blob, then precise checks where it hit.

``Detector.scan(data, context)`` returns the matches in one blob's content. Steps:

1. UTF-16/32 content is transcoded to UTF-8.
2. One pass of the compiled database gives, per rule, the end offsets of its hits (or of its
   keywords), and tells which decoders have something to look at.
3. Around each hit the rule's ``regex`` pattern captures the secret precisely; the secret must
   pass the rule's entropy floor, the placeholder filters, the rule's allow-list and its
   checksum. A token whose checksum fails is a made-up value (real ones always pass): it is
   not a finding, but counted in ``checksum_failures`` so that the report can say so.
4. Encoded regions (base64, hex, percent-encoding, ``\\uXXXX``) are decoded and scanned again,
   to a bounded depth; their matches are reported where the encoded text starts.
5. For a structured value (``context`` = its key name), rules with a ``context`` regex that
   matches the key run over the bare value.
6. A generic rule's match that overlaps a specific rule's match is dropped.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Generic, TypeVar

import hyperscan
import regex

from leakscan import regexcache
from leakscan.engine import decoders, filters, shape
from leakscan.engine.checksums import verify
from leakscan.engine.database import DECODER_NAMES, FULL, KEYWORD, RUN, compile_rules
from leakscan.engine.entropy import entropy
from leakscan.engine.redact import url_preview
from leakscan.model import CONFIDENCES, Match
from leakscan.rules.loader import rules_digest
from leakscan.rules.placeholders import Placeholders, builtin_placeholders
from leakscan.rules.spec import Rule

log = logging.getLogger(__name__)
T = TypeVar("T")

REGEX_TIMEOUT = 1.0  # seconds per precise match attempt (catastrophic patterns are cut off)
MAX_HITS_PER_RULE = 10_000  # hits beyond this in one blob are not examined (counted)...
# ...except a high-confidence rule's full-pattern hits: all are examined (a flood of
# look-alikes must not hide the real token after it; their number is bounded by the blob)
SHORT_SECRET_FACTOR = 0.85  # of the most entropy a secret of its length can have
SHORT_SECRET_MIN = 3.0  # bits per character: scaled floors stop here
MAX_REGIONS = 2000  # decoded regions examined per blob (the rest counted)
CAPPED_REGIONS = "<decoded regions>"  # the key of ``capped`` for regions over MAX_REGIONS
_SEPARATOR = b"\n\x00\n"  # between decoded regions scanned together
WINDOW = 8 * 1024 * 1024  # streams are scanned in windows of this size...
OVERLAP = 64 * 1024  # ...overlapping by this much, so a secret on an edge is still found


def entropy_floor(floor: float, length: int) -> float:
    """A rule's entropy floor, scaled down for short secrets: ``n`` characters carry at most
    ``log2(n)`` bits each, so a random 14-character password (at most 3.81) must not be held
    to a 3.5 floor meant for long tokens. Never below 3.0 bits: ``password`` stays out."""
    return min(floor, max(SHORT_SECRET_MIN, SHORT_SECRET_FACTOR * math.log2(max(length, 2))))


def is_generic(rule: Rule) -> bool:
    """Generic rules (by id, tag, or because they judge bare values by their key name) give
    way to a specific rule that matched the same text."""
    return rule.id.startswith("leakscan.generic.") or "generic" in rule.tags or bool(rule.context)


@dataclass(slots=True)
class _Where:
    """What a generic rule's value is judged by besides itself."""

    key: str | None  # the key name it is assigned to (or the structured value's key path)
    host: str | None  # the host of URL credentials
    literal: bool  # written as a literal (quoted, config syntax, a structured value)


@dataclass(slots=True)
class _Candidate:
    rule: Rule
    secret: str
    start: int  # offset of the secret in the scanned bytes
    end: int


class Detector:
    """All rules, compiled once; scans any number of blobs."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        decode_depth: int = 2,
        use_cache: bool = True,
        regex_timeout: float = REGEX_TIMEOUT,
        max_hits: int = MAX_HITS_PER_RULE,
        max_regions: int = MAX_REGIONS,
        placeholders: Placeholders | None = None,
    ) -> None:
        self.rules = list(rules)
        self.max_hits = max_hits
        self.max_regions = max_regions
        self._all_full = [r.confidence == "high" for r in self.rules]
        # rule id (or CAPPED_REGIONS) -> hits (regions) over the caps, not examined
        self.capped: Counter[str] = Counter()
        # placeholder words and example keys decide findings too: caches key on them as well
        self.placeholders = placeholders or builtin_placeholders()
        self.digest = _combined_digest(rules_digest(self.rules), self.placeholders.digest)
        self.decode_depth = decode_depth
        self.regex_timeout = regex_timeout
        self.compiled = compile_rules(self.rules, self.digest, use_cache=use_cache)
        database = self.compiled.database
        self._scratch = hyperscan.Scratch(database) if database is not None else None
        self._decoder_scratch = hyperscan.Scratch(self.compiled.decoders)
        # compiled on a rule's first hit: most runs never need most rules' precise pattern
        self._precise = _Lazy(
            lambda r: regexcache.compile(
                r.pattern.encode(), regex.IGNORECASE if r.ignore_case else 0
            ),
            self.rules,
        )
        self._allow = _Lazy(lambda r: [regexcache.compile(a) for a in r.allow], self.rules)
        self._context_rules = [
            (i, regexcache.compile(r.context)) for i, r in enumerate(self.rules) if r.context
        ]
        self._order = {r.id: i for i, r in enumerate(self.rules)}
        self._generic = {i for i, r in enumerate(self.rules) if is_generic(r)}
        self.timeouts = 0  # precise matches cut off by the regex timeout
        self.random_stretches = 0  # candidates dropped as a stretch of random base64/hex
        # rule id -> tokens of its shape whose checksum failed (test values, not findings)
        self.checksum_failures: Counter[str] = Counter()

    # -- public -------------------------------------------------------------------------
    def scan(self, data: bytes, context: str | None = None) -> list[Match]:
        data = decoders.transcode(data)
        candidates = self._candidates(data, context, depth=0)
        return [self._to_match(data, c, ()) for c in candidates[0]] + candidates[1]

    def scan_stream(
        self,
        stream: IO[bytes],
        context: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> list[Match]:
        """Scan a file object in overlapping windows; memory stays bounded by the window."""
        matches: list[Match] = []
        seen: set[tuple[str, str, int]] = set()
        line_base = 0  # newlines before the current window
        tail = b""  # the end of the previous window, scanned again with the next chunk
        chunk = stream.read(WINDOW)
        while chunk:
            window = tail + chunk
            for m in self.scan(window, context):
                key = (m.rule_id, m.secret, line_base + m.line)
                if key not in seen:  # a secret inside the overlap is met twice
                    seen.add(key)
                    matches.append(_shift(m, line_base))
            if on_bytes is not None:
                on_bytes(len(chunk))
            chunk = stream.read(WINDOW)
            if chunk:
                tail = window[-OVERLAP:]
                line_base += window.count(b"\n", 0, len(window) - len(tail))
        return matches

    # -- internals ----------------------------------------------------------------------
    def _candidates(
        self, data: bytes, context: str | None, depth: int
    ) -> tuple[list[_Candidate], list[Match]]:
        """Candidates found directly in ``data``, and matches found in decoded regions."""
        hits: dict[int, list[tuple[int, str]]] = defaultdict(list)
        # decoder name -> where it has something to look at (for runs: the byte after each)
        triggers: dict[str, list[int]] = defaultdict(list)
        stops: list[int] = []
        entries = self.compiled.entries
        max_hits, all_full = self.max_hits, self._all_full
        over: dict[int, int] = {}  # a plain dict: this runs once per blob, a Counter costs more

        def on_match(pattern_id: int, start: int, end: int, flags: int, ctx: object) -> None:
            entry = entries[pattern_id]
            bucket = hits[entry.rule_index]
            if len(bucket) < max_hits or (entry.how == FULL and all_full[entry.rule_index]):
                bucket.append((end, entry.how))
            else:
                over[entry.rule_index] = over.get(entry.rule_index, 0) + 1

        def on_trigger(pattern_id: int, start: int, end: int, flags: int, ctx: object) -> None:
            if pattern_id == RUN:  # ~700 a MB of minified code: kept short
                stops.append(end - 1)
            else:
                triggers[DECODER_NAMES[pattern_id]].append(end)

        if data:
            compiled = self.compiled
            if compiled.database is not None:
                compiled.database.scan(data, match_event_handler=on_match, scratch=self._scratch)
            if depth < self.decode_depth:  # else nothing is decoded: no triggers needed
                compiled.decoders.scan(
                    data, match_event_handler=on_trigger, scratch=self._decoder_scratch
                )
                if compiled.run_ends is not None:  # the runs in C, not in the database
                    stops = compiled.run_ends(data, decoders.MAX_DECODED)
                # a run that ends the data has no trigger: decoders.encoded_runs finds it
                if stops or data[-1] in decoders.B64_CHARS or data[-1] == 0x3D:
                    triggers["run"] = stops
        if over:
            for index, n in over.items():
                self.capped[self.rules[index].id] += n
        if not hits and not triggers and context is None:
            return [], []  # the usual case for most of a repository's blobs
        found: list[_Candidate] = []
        for index, rule_hits in hits.items():
            found.extend(self._precise_matches(index, data, rule_hits))
        if context is not None:
            found.extend(self._context_matches(data, context))
        found = _drop_overlapping_generics(_one_rule_per_span(_dedupe(found), self._order))
        decoded = self._decoded_matches(data, triggers, depth, found) if triggers else []
        return found, decoded

    def _precise_matches(
        self, index: int, data: bytes, rule_hits: list[tuple[int, str]]
    ) -> Iterator[_Candidate]:
        rule = self.rules[index]
        pattern = self._precise[index]
        reach = rule.max_length
        spans: list[tuple[int, int]] = []
        for end, how in sorted(rule_hits):
            lo = max(0, end - reach)
            hi = min(len(data), end + (reach if how == KEYWORD else 2 if how == FULL else reach))
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
            else:
                spans.append((lo, hi))
        for lo, hi in spans:
            yield from self._run_pattern(rule, index, pattern, data, lo, hi)

    def _run_pattern(
        self,
        rule: Rule,
        index: int,
        pattern: regex.Pattern[bytes],
        data: bytes,
        lo: int,
        hi: int,
        context: str | None = None,
    ) -> Iterator[_Candidate]:
        generic = index in self._generic
        try:
            for m in _matches(pattern, data, lo, hi, rule.secret_group, self.regex_timeout):
                raw = m.group(rule.secret_group)
                if not raw:
                    continue
                start, end = m.span(rule.secret_group)
                if not rule.multiline_secret and filters.is_inside_random_run(data, start, end):
                    self.random_stretches += 1  # a provider shape inside random data
                    continue
                secret = raw.decode("utf-8", "replace")
                where = _Where(context, None, context is not None) if generic else None
                if where is not None and context is None:
                    where.key = shape.key_before(data, start)
                    where.literal = shape.is_literal_position(data, start, end)
                if where is not None and "host" in pattern.groupindex:
                    host = m.group("host")
                    where.host = host.decode("utf-8", "replace") if host else None
                if self._accept(rule, index, secret, where):
                    yield _Candidate(rule, secret, start, end)
        except TimeoutError:
            self.timeouts += 1
            log.warning("rule %s: precise match timed out; region skipped", rule.id)

    def _context_matches(self, data: bytes, context: str) -> Iterator[_Candidate]:
        value = data.strip()
        if not value or len(value) > 4096:
            return
        for index, key_re in self._context_rules:
            if key_re.search(context):
                rule = self.rules[index]
                yield from self._run_pattern(
                    rule, index, self._precise[index], data, 0, len(data), context
                )

    def _accept(self, rule: Rule, index: int, secret: str, where: _Where | None = None) -> bool:
        if where is not None and not self._judge_generic(rule, secret, where):
            return False
        if rule.entropy and entropy(secret) < entropy_floor(rule.entropy, len(secret)):
            if where is None or not self._short_password(rule, secret, where):
                return False
        # a key block is judged by its body, not by a word in its header or a comment
        key_block = rule.multiline_secret or "-----BEGIN" in secret
        if not key_block and filters.is_placeholder(secret, self.placeholders):
            return False
        if key_block and filters.is_placeholder_body(secret, self.placeholders):
            return False
        if any(a.search(secret) for a in self._allow[index]):
            return False
        if rule.checksum and not verify(rule.checksum, secret):
            self.checksum_failures[rule.id] += 1
            return False
        return True

    def _judge_generic(self, rule: Rule, secret: str, where: _Where) -> bool:
        """A generic rule's value under a key that only points at a secret
        (``DB_PASSWORD_FILE``, ``PublicKeyToken``), credentials for a documentation host, or a
        value that is code, a path, a UUID, a version... is no finding."""
        if where.key and shape.is_reference_key(where.key):
            return False
        if where.host and shape.is_documentation_host(where.host):
            return False
        if not where.literal and shape.is_bare_name(secret):
            return False  # password = user_pw1: a variable
        if len(secret) < shape.SHORT_SECRET and not (
            self._password_context(rule, where) and shape.is_credential_shaped(secret)
        ):
            return False  # short is a password's privilege: tokens and keys are long
        return not shape.is_not_a_credential(secret)

    @staticmethod
    def _password_context(rule: Rule, where: _Where) -> bool:
        return "password" in rule.tags or bool(where.key and shape.is_password_key(where.key))

    def _short_password(self, rule: Rule, secret: str, where: _Where) -> bool:
        """A value below the entropy floor is still a finding when the context says password
        (a password-named key, or a rule about passwords: URL credentials, .netrc), it is
        written as a literal, and its shape is a human password's (``hunter2x``)."""
        if not self._password_context(rule, where) or not where.literal:
            return False
        if where.host and shape.is_local_host(where.host):
            return False  # a local development default: only a random one counts
        return (
            shape.is_credential_shaped(secret)
            and entropy(secret) >= shape.SHORT_PASSWORD_ENTROPY
            and not filters.is_placeholder(secret, self.placeholders)
        )

    def _decoded_matches(
        self,
        data: bytes,
        triggers: dict[str, list[int]],
        depth: int,
        plain: list[_Candidate],
    ) -> list[Match]:
        if depth >= self.decode_depth:
            return []
        regions: list[tuple[str, int, bytes]] = []
        if "run" in triggers:
            b64, hexes = decoders.encoded_runs(data, triggers["run"])
            regions.extend(("base64", s, d) for s, d in b64)
            regions.extend(("hex", s, d) for s, d in hexes)
        if "percent" in triggers:
            regions.extend(("percent", s, d) for s, d in decoders.percent_lines(data))
        if "unicode" in triggers:
            regions.extend(("unicode", s, d) for s, d in decoders.unicode_lines(data))
        if not regions:
            return []
        # all decoded regions of this blob are scanned in one pass, apart by a separator;
        # a match is then traced back to its region by offset (or line, for deeper ones)
        if len(regions) > self.max_regions:
            self.capped[CAPPED_REGIONS] += len(regions) - self.max_regions
            regions = regions[: self.max_regions]
        buf = bytearray()
        offsets: list[int] = []
        first_lines: list[int] = []
        lines = 1
        for _, _, content in regions:
            offsets.append(len(buf))
            first_lines.append(lines)
            buf += content
            buf += _SEPARATOR
            lines += content.count(b"\n") + _SEPARATOR.count(b"\n")
        found, deeper = self._candidates(bytes(buf), None, depth + 1)
        # a secret is reported once per line it is met on (a decoded secret repeated later in
        # the blob is one more location of the same finding), and not again where the plain
        # text already gave it
        known = {(c.rule.id, c.secret, _line_col(data, c.start)[0]) for c in plain}
        out: list[Match] = []
        for c in found:
            how, start, _ = regions[bisect.bisect_right(offsets, c.start) - 1]
            line, column = _line_col(data, start)
            if (c.rule.id, c.secret, line) in known:
                continue
            known.add((c.rule.id, c.secret, line))
            out.append(_match(c, line, column, (how,)))
        for m in deeper:
            how, start, _ = regions[bisect.bisect_right(first_lines, m.line) - 1]
            line, column = _line_col(data, start)
            if (m.rule_id, m.secret, line) in known:
                continue
            known.add((m.rule_id, m.secret, line))
            out.append(
                Match(
                    m.rule_id,
                    m.secret,
                    line,
                    column,
                    m.confidence,
                    m.severity,
                    (how, *m.decoded),
                    m.context,
                )
            )
        return out

    def _to_match(self, data: bytes, c: _Candidate, decoded: tuple[str, ...]) -> Match:
        line, column = _line_col(data, c.start)
        return _match(c, line, column, decoded, url_preview(data, c.start, c.end, c.secret))


def _matches(
    pattern: regex.Pattern[bytes],
    data: bytes,
    lo: int,
    hi: int,
    group: int | str,
    timeout: float,
) -> Iterator[regex.Match[bytes]]:
    """Matches in ``data[lo:hi]``; the next search starts where the secret ends, not where
    the match does, so that a delimiter a match consumed after its secret (the newline that
    ends ``A_PASSWORD=x``) still starts the next line's match."""
    pos = lo
    while pos < hi:
        m = pattern.search(data, pos, hi, timeout=timeout)
        if m is None:
            return
        yield m
        end = m.end(group) if m.start(group) >= 0 else m.end()
        pos = max(end, m.start() + 1)


class _Lazy(Generic[T]):
    """A list whose items are made from the rules on first use."""

    def __init__(self, make: Callable[[Rule], T], rules: Sequence[Rule]) -> None:
        self._make = make
        self._rules = rules
        self._items: dict[int, T] = {}

    def __getitem__(self, index: int) -> T:
        item = self._items.get(index)
        if item is None:
            item = self._items[index] = self._make(self._rules[index])
        return item


def _combined_digest(*digests: str) -> str:
    return "sha256:" + hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _match(
    c: _Candidate, line: int, column: int, decoded: tuple[str, ...], preview: str | None = None
) -> Match:
    return Match(
        rule_id=c.rule.id,
        secret=c.secret,
        line=line,
        column=column,
        confidence=c.rule.confidence,
        severity=c.rule.severity,
        decoded=decoded,
        preview=preview,
    )


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def _shift(m: Match, lines: int) -> Match:
    if not lines:
        return m
    return Match(
        m.rule_id,
        m.secret,
        m.line + lines,
        m.column,
        m.confidence,
        m.severity,
        m.decoded,
        m.context,
        m.preview,
    )


def _dedupe(cands: list[_Candidate]) -> list[_Candidate]:
    seen: set[tuple[str, int, str]] = set()
    out = []
    for c in cands:
        key = (c.rule.id, c.start, c.secret)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _one_rule_per_span(cands: list[_Candidate], order: dict[str, int]) -> list[_Candidate]:
    """Two specific rules matching the very same text make one finding: the more confident
    rule wins, and between equals the one loaded last (a team's own ``--rules`` over the
    built-in ones)."""
    best: dict[tuple[int, int], _Candidate] = {}
    rest: list[_Candidate] = []
    for c in cands:
        if is_generic(c.rule):
            rest.append(c)
            continue
        span = (c.start, c.end)
        held = best.get(span)
        if held is None or _strength(c, order) > _strength(held, order):
            best[span] = c
    return [*best.values(), *rest]


def _strength(c: _Candidate, order: dict[str, int]) -> tuple[int, int]:
    return (CONFIDENCES.index(c.rule.confidence), order.get(c.rule.id, 0))


def _drop_overlapping_generics(cands: list[_Candidate]) -> list[_Candidate]:
    specific = [(c.start, c.end) for c in cands if not is_generic(c.rule)]
    if not specific:
        return cands
    return [
        c
        for c in cands
        if not is_generic(c.rule) or not any(s < c.end and c.start < e for s, e in specific)
    ]
