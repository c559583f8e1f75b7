"""Format-correct secrets generated from a rule's own pattern (never from its examples).

A small generator walks the parse tree of the rule's regex (the standard library's parser reads
every pattern in patterns/) and draws a random string that the pattern matches: literals as
written, a random member of each class, a random count within each repetition. The rule's
pattern (``regex`` module) then confirms the draw and gives the secret group. Formats that carry
more than a shape get it from an implementation written here from the provider's description:
GitHub and npm tokens end in base62(CRC32(random part)); PEM/OpenSSH private keys are real keys
made by openssl/ssh-keygen when the header names a kind they make.
"""

from __future__ import annotations

import base64
import importlib
import random
import re
import shutil
import subprocess
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from leakscan.rules.spec import Rule

# the standard library's regex parser (re._parser since 3.11), read for its parse tree
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

LOWER = "abcdefghijklmnopqrstuvwxyz"
UPPER = LOWER.upper()
DIGITS = "0123456789"
ALNUM = LOWER + UPPER + DIGITS
#: what a negated class or `.` draws from: characters real tokens and passwords are made of
POOL = ALNUM + "-_.+/=!@#%^&*~:;,?|"
#: words that make a value look like a placeholder to any scanner: a draw holding one is redrawn
PLACEHOLDER_WORDS = (
    "example",
    "test",
    "fake",
    "dummy",
    "sample",
    "xxx",
    "todo",
    "none",
    "null",
    "abcd",
    "1234",
    "0000",
    "pass",
    "secret",
    "token",
    "key",
    "demo",
    "changeme",
    "your",
    "mock",
)
#: how far past a repetition's minimum an open-ended repetition may go
OPEN_SPAN = 24
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class GenerationError(Exception):
    """The pattern holds a construct the generator does not draw, or no draw matched."""


# --- checksums (independent of leakscan.engine.checksums) -------------------------------------


def to_base62(number: int, width: int) -> str:
    """``number`` in base62 (0-9, A-Z, a-z), most significant digit first, zero-padded."""
    digits: list[str] = []
    while number > 0:
        digits.append(BASE62[number % 62])
        number //= 62
    return "".join(reversed(digits)).rjust(width, "0")


def crc_token(prefix: str, random_part: str) -> str:
    """GitHub's token format (npm uses it too): prefix + random + base62(CRC32(random)), 6 wide.

    From GitHub's description of its token formats (2021): the checksum covers the random part
    alone, not the prefix."""
    return prefix + random_part + to_base62(zlib.crc32(random_part.encode("ascii")), 6)


def crc_token_valid(token: str) -> bool:
    """Whether a ``prefix_`` + random + 6-character checksum token carries a right checksum."""
    cut = token.rfind("_")
    if cut < 0 or len(token) - cut - 1 <= 6:
        return False
    body = token[cut + 1 : -6]
    return token == crc_token(token[: cut + 1], body)


def confluent_token(body: str) -> str:
    """Confluent Cloud's API secret format (since 30 July 2025): ``cflt`` + 54 characters +
    the CRC32 of those 54 as 4 little-endian bytes in base64, 6 characters without padding
    (Confluent's "API key format" page)."""
    check = base64.b64encode(zlib.crc32(body.encode("ascii")).to_bytes(4, "little"))
    return "cflt" + body + check[:6].decode("ascii")


def with_checksum(kind: str | None, token: str) -> str:
    """``token`` with its checksum recomputed for the rule's checksum kind."""
    if kind == "confluent":
        ok = token.startswith("cflt") and len(token) == 64
        return confluent_token(token[4:58]) if ok else token
    if kind not in ("github", "npm") or token.startswith("github_pat_"):
        return token
    cut = token.rfind("_")
    if cut < 0 or len(token) - cut - 1 <= 6:
        return token
    return crc_token(token[: cut + 1], token[cut + 1 : -6])


# --- the regex-driven generator ---------------------------------------------------------------


class _Draw:
    def __init__(self, rng: random.Random, secret_group: int | str = 0) -> None:
        self.rng = rng
        self.groups: dict[int, str] = {}
        # outside the secret group, repetitions stay short so that the context reads like text
        self.secret_group = secret_group
        self.inside = secret_group == 0 or isinstance(secret_group, str)

    def tree(self, items: Any) -> str:
        return "".join(self.node(op, av) for op, av in items)

    def node(self, op: Any, av: Any) -> str:
        c = sre_constants
        if op is c.LITERAL:
            return chr(av)
        if op is c.NOT_LITERAL:
            return self.rng.choice([ch for ch in POOL if ord(ch) != av])
        if op is c.ANY:
            return self.rng.choice(ALNUM)
        if op is c.IN:
            return self.klass(av)
        if op is c.BRANCH:
            return self.tree(self.rng.choice(av[1]))
        if op is c.SUBPATTERN:
            group, _add, _del, sub = av
            entering = group == self.secret_group and not self.inside
            if entering:
                self.inside = True
            text = self.tree(sub)
            if entering:
                self.inside = False
            if group:
                self.groups[group] = text
            return text
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) or op is getattr(c, "POSSESSIVE_REPEAT", None):
            low, high, sub = av
            if len(sub) == 1 and sub[0][0] is c.LITERAL:  # padding (`=*`), separators
                return chr(sub[0][1]) * self.rng.randint(low, min(high, low + 2))
            return "".join(self.tree(sub) for _ in range(self.count(low, high)))
        if op is getattr(c, "ATOMIC_GROUP", None):
            return self.tree(av)
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return ""  # anchors and lookarounds draw nothing; the final match checks them
        if op is c.GROUPREF:
            return self.groups.get(av, "")
        if op is c.GROUPREF_EXISTS:
            group, yes, no = av
            return self.tree(yes if group in self.groups else (no or []))
        raise GenerationError(f"unsupported regex construct {op}")

    def count(self, low: int, high: int) -> int:
        if not self.inside:
            if low > 0 or high <= 16:
                return low
            return self.rng.randint(min(4, high), min(8, high))
        top = low + OPEN_SPAN if high == sre_constants.MAXREPEAT else min(high, low + OPEN_SPAN)
        # a one-character class repeated {7,127} is a password or key: give it length enough
        # to be random (at least 16 where the range allows), as a real generated secret has
        floor = min(max(low, 16), top) if top - low >= 8 else low
        return self.rng.randint(floor, top)

    def klass(self, items: Any) -> str:
        c = sre_constants
        allowed: set[str] = set()
        negate = False
        for op, av in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                allowed.add(chr(av))
            elif op is c.RANGE:
                allowed.update(chr(x) for x in range(av[0], av[1] + 1))
            elif op is c.CATEGORY:
                allowed.update(_category(av))
            else:
                raise GenerationError(f"unsupported class item {op}")
        if negate:
            pool = [ch for ch in POOL + ("" if self.inside else " ") if ch not in allowed]
        else:
            printable = [ch for ch in allowed if ch.isprintable() or ch in "\n"]
            # inside the secret, prefer token characters when a class also allows odd ones
            # ([\s\S], [^...]); around it, spaces and punctuation too (word boundaries)
            tokenish = [ch for ch in printable if ch in POOL or (ch == " " and not self.inside)]
            pool = sorted(tokenish or printable or allowed)
        if not pool:
            raise GenerationError("empty character class")
        if not self.inside and " " in pool and self.rng.random() < 0.3:
            return " "  # context reads as words: spaces often, so word boundaries hold
        return self.rng.choice(pool)


def _category(cat: Any) -> str:
    c = sre_constants
    table = {
        c.CATEGORY_DIGIT: DIGITS,
        c.CATEGORY_NOT_DIGIT: LOWER + UPPER,
        c.CATEGORY_WORD: ALNUM + "_",
        c.CATEGORY_NOT_WORD: "-",
        c.CATEGORY_SPACE: " ",
        c.CATEGORY_NOT_SPACE: ALNUM,
    }
    return table.get(cat, ALNUM)


_LATE_FLAGS = re.compile(r"(?<!\\)\(\?[imsx]+\)")


def parsable(pattern: str) -> str:
    """``pattern`` in the standard parser's dialect: flags set mid-pattern (``(?i)`` after
    text, as Rust and the ``regex`` module allow) dropped, ``\\z`` spelled ``\\Z``. Only for
    drawing: the draw is then checked with the pattern as written."""
    lead = re.match(r"(?:\(\?[imsx]+\))*", pattern)
    head = lead.group(0) if lead else ""
    rest = _LATE_FLAGS.sub("", pattern[len(head) :])
    return _unique_group_names(head + re.sub(r"(?<!\\)\\z", r"\\Z", rest))


def _unique_group_names(pattern: str) -> str:
    """The ``regex`` module lets alternatives share a group name; the standard parser does
    not, so repeats are renamed (a named secret group is located by matching, not drawing)."""
    seen: dict[str, int] = {}

    def rename(m: re.Match[str]) -> str:
        name = m.group(1)
        seen[name] = seen.get(name, 0) + 1
        return m.group(0) if seen[name] == 1 else f"(?P<{name}_{seen[name]}>"

    return re.sub(r"\(\?P<(\w+)>", rename, pattern)


def draw(pattern: str, rng: random.Random, secret_group: int | str = 0) -> str:
    """One random string drawn from ``pattern``'s parse tree (not yet checked against it)."""
    try:
        with warnings.catch_warnings():  # "possible nested set": a peer's pattern, not ours
            warnings.simplefilter("ignore", FutureWarning)
            tree = sre_parse.parse(parsable(pattern))
    except re.error as exc:
        raise GenerationError(f"pattern does not parse: {exc}") from exc
    drawer = _Draw(rng, secret_group)
    text = drawer.tree(tree)
    items = list(tree)
    if items and items[-1][0] is sre_constants.ASSERT and items[-1][1][0] == 1:
        text += drawer.tree(items[-1][1][1])  # a closing lookahead (`(?=…akab-)`): write it
    return text


def looks_placeholder(value: str, pattern: str = "") -> bool:
    """Whether ``value`` holds a placeholder word that the pattern itself does not spell."""
    low, spelled = value.lower(), pattern.lower()
    return any(word in low and word not in spelled for word in PLACEHOLDER_WORDS)


# --- private keys: real ones where a tool can make them ------------------------------------------

_KEY_COMMANDS: dict[str, list[list[str]]] = {
    "RSA PRIVATE KEY": [["openssl", "genrsa", "-traditional", "2048"]],
    "EC PRIVATE KEY": [["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout"]],
    "PRIVATE KEY": [["openssl", "genpkey", "-algorithm", "ed25519"]],
    "DSA PRIVATE KEY": [["openssl", "dsaparam", "-genkey", "-noout", "1024"]],
    "ENCRYPTED PRIVATE KEY": [
        ["openssl", "genpkey", "-algorithm", "ed25519", "-aes256", "-pass", "pass:bench"]
    ],
}


def real_private_key(header: str) -> str | None:
    """A freshly made private key whose PEM header is ``header``, or None if none can be made."""
    if header == "OPENSSH PRIVATE KEY" and shutil.which("ssh-keygen"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "id"
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)],
                check=True,
                capture_output=True,
            )
            return path.read_text()
    for cmd in _KEY_COMMANDS.get(header, []):
        if not shutil.which(cmd[0]):
            return None
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        if f"-----BEGIN {header}-----" in out:
            return out[out.index("-----BEGIN") :]
    return None


_PEM_HEADER = re.compile(r"-----BEGIN ([A-Za-z0-9 ]+)-----")


def armored(header: str, rng: random.Random) -> str:
    """A block of random content in the armour ``header`` names: hex lines for OpenVPN static
    keys (16 lines of 32 hex digits), base64 lines of 64 characters for the PEM-like rest."""
    if "OpenVPN" in header:
        body = "\n".join(rng.randbytes(16).hex() for _ in range(16))
    else:
        b64 = base64.b64encode(rng.randbytes(rng.randint(600, 900))).decode()
        body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
        if "PGP" in header:
            crc = base64.b64encode(rng.randbytes(3)).decode()
            body = "\n" + body + "\n=" + crc
    return f"-----BEGIN {header}-----\n{body}\n-----END {header}-----\n"


def _b64_lines(data: bytes, width: int) -> list[str]:
    text = base64.b64encode(data).decode()
    return [text[i : i + width] for i in range(0, len(text), width)]


def putty_key(rng: random.Random) -> str:
    """A PuTTY .ppk (version 3, unencrypted ed25519) with random key material, as PuTTYgen
    lays it out: header, Public-Lines, Private-Lines, a 64-hex Private-MAC."""
    public = _b64_lines(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + rng.randbytes(32), 64)
    private = _b64_lines(b"\x00\x00\x00\x20" + rng.randbytes(32), 64)
    return (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-20240611\n"
        f"Public-Lines: {len(public)}\n" + "\n".join(public) + "\n"
        f"Private-Lines: {len(private)}\n" + "\n".join(private) + "\n"
        f"Private-MAC: {rng.randbytes(32).hex()}\n"
    )


def ssh2_key(rng: random.Random) -> str:
    """An SSH.com/Tectia (RFC 4716 style) encrypted private key block of random content."""
    body = "\n".join(_b64_lines(b"\x3f\x6f\xf9\xeb" + rng.randbytes(600), 70))
    return (
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n"
        'Comment: "rsa-key-20240611"\n'
        f"{body}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
    )


# --- a rule's secret -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Generated:
    rule_id: str
    match: str  # the whole drawn match (context included)
    secret: str  # the rule's secret group within it


def compiled(rule: Rule) -> regex.Pattern[str]:
    flags = regex.IGNORECASE if rule.ignore_case else 0
    return regex.compile(rule.pattern, flags)


def secret_in(rule: Rule, text: str, secret: str) -> bool:
    """Whether the rule's pattern finds exactly ``secret`` somewhere in ``text``."""
    for m in compiled(rule).finditer(text, overlapped=True):
        if m.group(rule.secret_group) == secret:
            return True
    return False


def generate(rule: Rule, rng: random.Random, tries: int = 60) -> Generated:
    """A random match of ``rule.pattern`` with a format-correct, non-placeholder secret."""
    pat = compiled(rule)
    header = _PEM_HEADER.search(rule.pattern.replace("\\", ""))
    if rule.multiline_secret and "PuTTY-User-Key-File" in rule.pattern:
        m = pat.search(putty_key(rng))
        if m and m.group(rule.secret_group):
            return Generated(rule.id, m.group(0), m.group(rule.secret_group))
    if rule.multiline_secret and "BEGIN SSH2" in rule.pattern:
        m = pat.search(ssh2_key(rng))
        if m and m.group(rule.secret_group):
            return Generated(rule.id, m.group(0), m.group(rule.secret_group))
    if rule.multiline_secret and header:
        for key in (real_private_key(header.group(1)), armored(header.group(1), rng)):
            m = pat.search(key) if key is not None else None
            if m and m.group(rule.secret_group):
                return Generated(rule.id, m.group(0), m.group(rule.secret_group))
    last = ""
    for _ in range(tries):
        text = draw(rule.pattern, rng, rule.secret_group)
        m = pat.search(text)
        if not m or not m.group(rule.secret_group):
            last = "no match"
            continue
        secret = m.group(rule.secret_group)
        fixed = with_checksum(rule.checksum, secret)
        if fixed != secret:
            text = text.replace(secret, fixed)
            m = pat.search(text)
            if not m or m.group(rule.secret_group) != fixed:
                last = "checksum broke the match"
                continue
            secret = fixed
        if looks_placeholder(secret, rule.pattern):
            last = "placeholder-looking draw"
            continue
        shown = m.group(0)
        if not pat.search(shown):  # the match needs what its closing lookahead saw
            shown = text[m.start() :]
        return Generated(rule.id, shown, secret)
    raise GenerationError(f"{rule.id}: no usable draw in {tries} tries ({last})")
