"""Redacted previews of secrets that still say what leaked: ``ghp_…Xy2A``,
``postgres://app:…@db``, ``PRIVATE KEY (RSA) …``.

A preview goes into every report, the baseline and the caches. It never holds the secret, and
never a PEM armor line (``-----BEGIN … PRIVATE KEY-----``): a report or baseline that carried
one would be flagged by every other secret scanner that reads it.
"""

from __future__ import annotations

import base64
import binascii

from leakscan.lazyregex import lazy

# a token's type prefix (ghp_, xoxb-, sk-proj-, AKIA, AIza, SG.): shown, it says what leaked
_PREFIX = lazy(
    globals(),
    r"^(?:[A-Za-z0-9]{1,12}[_-](?:[A-Za-z0-9]{1,6}[_-])?|AKIA|ASIA|ABIA|ACCA|AIza|SG\.|eyJ)",
)
_ARMOR = lazy(globals(), r"-----BEGIN ([A-Z0-9 ]{1,40})-----")
_ARMOR_END = lazy(globals(), r"-----END [A-Z0-9 ]{1,40}-----")
# the algorithm OIDs (DER) a PKCS#8 key names in its AlgorithmIdentifier
_PKCS8_OIDS = (
    (bytes.fromhex("06092a864886f70d010101"), "RSA"),  # 1.2.840.113549.1.1.1
    (bytes.fromhex("06072a8648ce3d0201"), "EC"),  # 1.2.840.10045.2.1
    (bytes.fromhex("06032b6570"), "Ed25519"),  # 1.3.101.112
    (bytes.fromhex("06032b656e"), "X25519"),  # 1.3.101.110
    (bytes.fromhex("06072a8648ce380401"), "DSA"),  # 1.2.840.10040.4.1
)
_OPENSSH_MAGIC = b"openssh-key-v1\0"
# scheme://user: right before a password, @host right after it
_URL_BEFORE = lazy(globals(), rb"([A-Za-z][A-Za-z0-9+.\-]{0,20}://[^\s:/@'\"`<>]{0,64}:)$")
_URL_AFTER = lazy(globals(), rb"^@([A-Za-z0-9_.\-]{1,64}|\[[0-9A-Fa-f:.]{2,45}\])")


def redact(secret: str) -> str:
    """A preview of ``secret``: its type prefix and last characters, or what a key block is."""
    if "-----BEGIN " in secret:
        return key_block(secret)
    if "\n" in secret:  # some other block: its length only
        return f"… ({len(secret.splitlines())} lines)"
    if len(secret) < 8:
        return "…" * 1 + "*" * 3
    prefix = _prefix(secret)
    tail = 4 if len(secret) >= 16 else 2
    return f"{prefix}…{secret[-tail:]}"


def _prefix(secret: str) -> str:
    prefix_match = _PREFIX.match(secret)
    prefix = prefix_match.group(0) if prefix_match else ""
    return "" if len(prefix) > len(secret) // 2 else prefix


def key_block(secret: str) -> str:
    """``PRIVATE KEY (RSA) …``: the kind of a PEM block, from its label or its body; never
    the armor line."""
    m = _ARMOR.search(secret)
    if m is None:  # pragma: no cover (callers check for the armor)
        return "…"
    label = m.group(1).strip()
    if not label.endswith("PRIVATE KEY"):  # a certificate, a PGP block ...
        return f"{label} …"
    kind = label.replace("PRIVATE KEY", "").strip()
    body = _body(secret[m.end() :])
    if kind == "OPENSSH":
        algo = _openssh_type(body)
        kind = f"OpenSSH {algo}" if algo else "OpenSSH"
    elif kind == "ENCRYPTED":
        kind = "PKCS#8, encrypted"
    elif not kind:
        algo = next((name for oid, name in _PKCS8_OIDS if oid in body[:64]), None)
        kind = f"PKCS#8 {algo}" if algo else "PKCS#8"
    return f"PRIVATE KEY ({kind}) …"


def _body(text: str) -> bytes:
    """The first bytes of a PEM body (headers such as ``Proc-Type:`` left out)."""
    end = _ARMOR_END.search(text)
    text = text[: end.start()] if end else text
    text = text.replace("\\n", "\n").replace("\\r", "\n")
    lines = [line.strip() for line in text.splitlines() if ":" not in line]
    chars = "".join(lines)[:1024]
    chars = chars[: len(chars) // 4 * 4]
    try:
        return base64.b64decode(chars, validate=False)
    except (binascii.Error, ValueError):
        return b""


def _openssh_type(body: bytes) -> str | None:
    """The key type (``ssh-ed25519``) an OpenSSH private key names in its public key."""
    if not body.startswith(_OPENSSH_MAGIC):
        return None
    pos = len(_OPENSSH_MAGIC)
    try:
        for _ in range(3):  # cipher name, kdf name, kdf options
            pos += 4 + int.from_bytes(body[pos : pos + 4], "big")
        pos += 4  # number of keys
        pos += 4  # length of the first public key
        size = int.from_bytes(body[pos : pos + 4], "big")
        name = body[pos + 4 : pos + 4 + size]
    except (IndexError, ValueError):
        return None
    if not 0 < size <= 40 or not name.isascii():
        return None
    text = name.decode("ascii")
    return text if text.replace("-", "").replace("@", "").replace(".", "").isalnum() else None


def url_preview(data: bytes, start: int, end: int, secret: str) -> str | None:
    """``postgres://app:…@db`` for a password written inside a URL (``None`` elsewhere):
    the scheme, user and host say what the password opens; no character of it is shown
    beyond a token's type prefix."""
    before = _URL_BEFORE.search(data[max(0, start - 96) : start])
    after = _URL_AFTER.match(data[end : end + 72])
    if before is None or after is None:
        return None
    head = before.group(1).decode("utf-8", "replace")
    host = after.group(1).decode("utf-8", "replace")
    preview = f"{head}{_prefix(secret)}…@{host}"
    return None if secret in preview else preview
