"""False-positive filters: small named predicates over a candidate secret.

Each returns True when the candidate is *not* a real secret (a placeholder, a template, a
documented example...). They take what they need as arguments; no global settings.
"""

from __future__ import annotations

import itertools
from functools import cache

import regex

from leakscan import regexcache
from leakscan.lazyregex import lazy
from leakscan.rules.placeholders import Placeholders, builtin_placeholders

# ${VAR}, $VAR, $(cmd), {{ .Values.x }}, {% x %}, <%= x %>, #{x}, %(x)s, %VAR%, @VAR@, __VAR__,
# ###VAR###, @@VAR@@, %%VAR%%, [[var]]
_TEMPLATE = lazy(
    globals(),
    r"""\$\{[^}]*\}?|\$\([^)]*\)?|^\$[A-Za-z_][A-Za-z0-9_]*$|\{\{.*?\}\}|\{%.*?%\}|<%.*?%>|"""
    r"""\#\{[^}]*\}|%\([A-Za-z_]+\)[sd]|^%[A-Za-z_][A-Za-z0-9_]*%$|^@[A-Za-z_]+@$|"""
    r"""^__[A-Z0-9_]+__$|\{[A-Za-z_][A-Za-z0-9_.]*\}$|"""
    # ###ORACLE_PWD###, @@DB_PASS@@, %%PASSWORD%%, [[password]]: substitution markers
    r"""^\#{2,}[\w.-]+\#{2,}$|^@@[\w.-]+@@$|^%%[\w.-]+%%$|^\[\[[\w.-]+\]\]$""",
    regex.S,
)
_ANGLE = lazy(globals(), r"^<[^<>]{1,80}>$|^\[[A-Za-z _-]{2,60}\]$")
_CODE_REF = lazy(
    globals(),
    r"""^(?:os\.(?:environ|getenv)|process\.env|env\(|getenv\(|ENV\[|System\.getenv|"""
    r"""settings\.|config\.|self\.|this\.|args\.|params\.|request\.|secrets\.|vault:|"""
    r"""ref\+|arn:aws:secretsmanager|projects/[^/]+/secrets/)""",
)


def is_templated(secret: str) -> bool:
    """``${VAR}``, ``{{ .Values.x }}``, ``$(cat /run/secrets/x)``, ``%(pw)s``..."""
    return bool(_TEMPLATE.search(secret))


def is_angle_placeholder(secret: str) -> bool:
    """``<your-token>``, ``[PASSWORD]``."""
    return bool(_ANGLE.match(secret))


def is_placeholder_word(
    secret: str, data: Placeholders | None = None, anywhere_only: bool = False
) -> bool:
    """Words that mark a value as a stand-in (EXAMPLE, changeme, your_api_key, fake_token...),
    from ``patterns/placeholders.yaml``. Short words count only where they stand as a word, so
    a random token that happens to spell ``none`` is not dropped; with ``anywhere_only`` only
    the long, distinctive ones count (for a key body, where any short word is chance)."""
    for pattern, anywhere in _compiled(data or builtin_placeholders()):
        if anywhere_only and not anywhere:
            continue
        for m in pattern.finditer(secret, overlapped=True):
            if not _one_case(m.group()):
                continue
            if anywhere or _stands_as_word(secret, m.start(), m.end()):
                return True
    return False


def is_known_example(secret: str, data: Placeholders | None = None) -> bool:
    """Keys that vendors publish in their documentation (``patterns/placeholders.yaml``)."""
    return secret in _known(data or builtin_placeholders())


@cache
def _compiled(data: Placeholders) -> tuple[tuple[regex.Pattern[str], bool], ...]:
    return tuple(
        (regexcache.compile(w.pattern, regex.IGNORECASE), w.match == "anywhere") for w in data.words
    )


@cache
def _known(data: Placeholders) -> frozenset[str]:
    return frozenset(k.value for k in data.known)


_ALPHA_RUN = lazy(globals(), r"[A-Za-z]+")
_CAMEL = lazy(globals(), r"(?:[a-z]{2,}|[A-Z][a-z]+)(?:[A-Z][a-z]+)+")  # passWord, PassWord


def _one_case(text: str) -> bool:
    """Written the way a person writes words (none, NONE, None, PassWord), not ``sAmPle``."""
    return all(
        run.islower() or run.isupper() or run.istitle() or bool(_CAMEL.fullmatch(run))
        for run in _ALPHA_RUN.findall(text)
    )


def _stands_as_word(value: str, start: int, end: int) -> bool:
    """The word at ``value[start:end]`` starts or ends the value or a separated segment, sits
    between camelCase changes on both sides, or fills half of the value."""
    word = value[start:end]
    before = value[start - 1] if start > 0 else ""
    after = value[end] if end < len(value) else ""
    if not _alnum(before) or not _alnum(after):
        return True
    camel_left = before.islower() and word[:1].isupper()
    camel_right = after.isdigit() or (after.isupper() and word[-1:].islower())
    if camel_left and camel_right:
        return True
    return 2 * len(word) >= sum(_alnum(c) for c in value)


def _alnum(char: str) -> bool:
    return bool(char) and char.isascii() and char.isalnum()


def is_repetitive(secret: str, min_distinct: int = 4) -> bool:
    """``xxxxxxxx``, ``aaaaBBBB``, ``abababab``: too few distinct characters."""
    core = secret
    if len(secret) > 12:  # judge a prefixed token (ghp_xxxx) by what follows its prefix
        core = secret.split("_", 1)[-1] or secret
    return len(set(core)) < min(min_distinct, max(1, len(core) // 2))


def is_sequential(secret: str, run: int = 8) -> bool:
    """A run such as ``12345678`` or ``abcdefgh`` (of ``run`` characters or more)."""
    count = 1
    for a, b in itertools.pairwise(secret):
        count = count + 1 if ord(b) - ord(a) == 1 else 1
        if count >= run:
            return True
    return False


def is_masked(secret: str) -> bool:
    """Already-redacted values: ``****``, ``•••``, ``<redacted>``."""
    return secret.count("*") >= 4 or "•" in secret or "…" in secret


def is_code_reference(secret: str) -> bool:
    """A value that is a lookup, not a literal: ``os.environ["X"]``, ``process.env.X``."""
    return bool(_CODE_REF.match(secret))


def is_placeholder(secret: str, data: Placeholders | None = None) -> bool:
    """Any of the filters above (``data``: the placeholder words and example keys)."""
    return (
        is_templated(secret)
        or is_angle_placeholder(secret)
        or is_known_example(secret, data)
        or is_placeholder_word(secret, data)
        or is_repetitive(secret)
        or is_sequential(secret)
        or is_masked(secret)
        or is_code_reference(secret)
    )


def key_body(block: str) -> str:
    """The base64 body of a key block, wherever it is written: PEM lines, ``\\n``-escaped in
    one string, or string literals summed in code (``"MIIE...\\n" +``)."""
    text = regex.sub(r"\\[rn]", "\n", block)
    # a marker on the body's own line (a PEM flattened to one line, or ``…body-----END``)
    text = regex.sub(r"-----(?:BEGIN|END)[A-Z0-9 ]{0,40}-----", "\n", text)
    lines = []
    for line in text.strip().splitlines():
        line = line.strip().strip("\"'`+.&_,() \t")
        if not line or line.startswith("----") or line.endswith("----") or ":" in line:
            continue
        lines.append(line.strip("\"'`"))
    return "".join(lines)


def is_placeholder_body(block: str, data: Placeholders | None = None) -> bool:
    """A key block whose body is elided (``...``) or a stand-in (``xxxx``, ``<key>``, a
    documentation body spelling ``EXAMPLE``): judged by its body alone, so a word in a comment
    or a header (``fake``), or a short one a random body spells, does not drop a key."""
    body = key_body(block)
    return (
        len(body) < 40
        or is_placeholder_word(body, data, anywhere_only=True)
        or "..." in body
        or "…" in body
        or is_repetitive(body)
        or not regex.fullmatch(r"[A-Za-z0-9+/=\s]+", body)
    )


_RUN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SEGMENT_SEPARATORS = lazy(globals(), rb"[+/_-]")
_WORD_SEGMENT = lazy(globals(), rb"[A-Za-z]?[a-z]{1,}")
RANDOM_REACH = 64  # characters looked at on each side of a candidate
RANDOM_MIN_EXTRA = 8  # random characters around it that make it a stretch of a longer run


def _run_around(
    data: bytes, start: int, end: int, alphabet: frozenset[int], reach: int
) -> tuple[int, int]:
    """How far characters of ``alphabet`` run on around ``data[start:end]``, at most ``reach``
    each way: the run's (lo, hi)."""
    lo = start
    while lo > 0 and start - lo < reach and data[lo - 1] in alphabet:
        lo -= 1
    hi = end
    while hi < len(data) and hi - end < reach and data[hi] in alphabet:
        hi += 1
    return lo, hi


def is_inside_random_run(data: bytes, start: int, end: int) -> bool:
    """The candidate ``data[start:end]`` is a stretch of a longer run of random base64 or hex
    on its line (a provider-shaped ``AKIA…``/``cio…`` inside an encoded blob, a hash, an
    integrity field, a PEM body line), not a token of its own.

    The run around it must itself look random: more hex running on from a hex candidate, or
    upper- and lower-case letters and digits, with words (``services``, ``us``, ``east``)
    making less than a quarter of its ``/``/``+``/``-``/``_``-separated segments. A URL path
    (``…/services/T0A1/B2C3/…``) or an AWS credential scope
    (``…/20240101/us-east-1/s3/aws4_request``) is not random data.
    """
    if all(c in _HEX for c in data[start:end]):
        lo, hi = _run_around(data, start, end, _HEX, RANDOM_MIN_EXTRA)
        if (start - lo) + (hi - end) >= RANDOM_MIN_EXTRA:
            return True  # hex running on: a hash or a longer hex value, cut
    lo, hi = _run_around(data, start, end, _RUN, RANDOM_REACH)
    extra = (start - lo) + (hi - end)
    if extra < RANDOM_MIN_EXTRA:
        return False
    left, right = data[lo:start], data[end:hi]
    around = left + right
    alnum = bytes(c for c in around if c not in b"+/-_")
    if not (
        any(65 <= c <= 90 for c in alnum)
        and any(97 <= c <= 122 for c in alnum)
        and any(48 <= c <= 57 for c in alnum)
    ):
        return False
    # complete segments only: one cut by the reach limit or running into the candidate is not
    left_parts = _SEGMENT_SEPARATORS.split(left)
    right_parts = _SEGMENT_SEPARATORS.split(right)
    segments = left_parts[1:-1] + right_parts[1:-1]
    if len(left_parts) > 1 and (lo == 0 or data[lo - 1] not in _RUN):
        segments.append(left_parts[0])
    if len(right_parts) > 1 and (hi == len(data) or data[hi] not in _RUN):
        segments.append(right_parts[-1])
    words = sum(len(s) for s in segments if _WORD_SEGMENT.fullmatch(s))
    return 4 * words < len(alnum)
