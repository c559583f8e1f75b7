"""What generic (context-backed) findings are judged by besides entropy: the key a value is
assigned to, the host of a URL's credentials, and the value's shape.

A short human password (``hunter2x``, ``letmein1``, ``S3cr3t!``) never clears an entropy floor
meant for tokens: at 8 characters the most a value can carry is 3 bits per character. Under a
password-named key, written as a literal, its shape decides instead: letters with digits or
symbols, and none of the things code and configuration put there (a lookup, a path, a template,
an identifier, a version, a word, an algorithm name).
"""

from __future__ import annotations

import base64
import binascii
import json

import regex

from leakscan.lazyregex import lazy

# the key a value is assigned to, read back from the value's start on its line:
# ``DB_PASSWORD=``, ``"password": "``, ``passwd: '``, ``<Pass>``, ``config.Password = ``
_KEY_BEFORE = lazy(
    globals(),
    r"""(?:<([\w.:-]{1,80})>|([\w.$-]{1,80})["'`\]]{0,2}\s{0,3}(?::=|=>|:|=)\s{0,3}["'`]?)$""",
)
_PASSWORD_KEY = lazy(globals(), r"(?i)(?:pass(?:word|wd|phrase)?|pwd|pw)(?:$|[^a-z])|passwort$")
# keys whose value names where a secret is, or describes it, rather than holding it
_REFERENCE_KEY = lazy(
    globals(),
    r"""(?ix)(?:^|[_.-]|(?<=[a-z]))(?:
        file|path|dir|directory|url|uri|endpoint|name|type|length|len|policy|field|prompt|
        regex|pattern|header|env|var|ref|reference|command|cmd|hint|label|mode|format|
        algorithm|algo|encoding|min|max|expiry|expires|expiration|ttl|age|count|enabled|
        required|store|manager|provider|helper|source|from|location
    )$|publickeytoken$|
    # tokens that are no credentials: idempotency, paging, resuming
    (?:client|idempotency|continuation|next|page|pagination|starting|resume|sync)[_-]?token$""",
)
_DOC_HOST = lazy(
    globals(),
    r"""(?ix)(?:^|\.)(?:example\.(?:com|org|net|edu)|example|test|invalid|localdomain|
        (?:your|my)[-_]?(?:domain|host|server|company|site)(?:name)?(?:\.[a-z]{2,6})?|
        (?:domain|host|hostname|server|company)\.(?:com|tld))$|^(?:host|hostname|server)$""",
)
_LOCAL_HOST = lazy(
    globals(),
    r"(?i)^(?:localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\]|::1|host\.docker\.internal)$",
)
_CODE_SHAPES = lazy(
    globals(),
    r"""(?x)^(?:
        [A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)+(?:\(\)?|\[[^\]]*\])?   # a.b.c, a->b
        |[A-Za-z_$][\w$]*\((?:[^()]*)\)?                                          # call(x)
        |[A-Za-z_$][\w$]*\[[^\]]*\]                                               # x["k"]
        |arn:[\w-]+:[^\s]*                                                         # an AWS ARN
    )$""",
)
_PATH = lazy(globals(), r"^(?:~|\.{1,2})?/(?:[\w@.+-]+/)*[\w@.+-]*$|^[A-Za-z]:\\[^\s]*$")
_PATH_SEGMENT_RANDOM = lazy(globals(), r"(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{12,}")
# a bind mount's mode (`/etc/passwd:/etc/passwd:ro`), after the paths it joins
_MOUNT_OPTION = lazy(
    globals(),
    r"^(?:ro|rw|z|Z|cached|delegated|consistent|nocopy|r?shared|r?slave|r?private)(?:,\w+)*$",
)
_UUID = lazy(globals(), r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_VERSION = lazy(globals(), r"(?i)^v?\d+(?:\.\d+)+(?:[-+.][\w.]+)?$|^\d+(?:\.\d+)*[a-z]{1,3}$")
_NUMBERISH = lazy(globals(), r"^[-+]?[\d.,:_]+$")
_EMAIL = lazy(globals(), r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
_IDENTIFIER = lazy(
    globals(),
    r"""(?x)^(?:
        [a-z][a-z0-9]*(?:[_.-][a-z][a-z0-9]*)+         # snake_case, kebab-case, dotted.name
        |[A-Z][A-Z0-9]*(?:[_.-][A-Z][A-Z0-9]*)+         # CONSTANT_CASE
        |[a-z]+(?:[A-Z][a-z]+)+                      # camelCase words
        |[A-Z][a-z]+(?:[A-Z][a-z]+)+                 # PascalCase words
    )$""",
)
_TECH_WORD = lazy(
    globals(),
    r"""(?ix)^(?:sha-?\d*|md[45]|aes-?\d*(?:-\w+)?|rsa-?\d*|des3?|bcrypt|scrypt|argon2\w*|
        pbkdf2\w*|hmac\w*|base(?:32|64)|utf-?(?:8|16|32)\w*|latin-?1|ascii|x86_64|amd64|
        arm64|i[3-6]86|ipv[46]|https?2?|oauth[12]?|tls-?v?1\S*|ssl-?v?\d\S*|scram-sha-\d+|
        ed25519|p-?(?:256|384|521)|secp\d+[rk]1|h[23]|gzip|x509|pkcs\d+|jwt|jks|p12)$""",
)
_YAML_TAG = lazy(globals(), r"^!{1,2}[A-Za-z][\w.:/-]*$")  # !vault, !Ref, !secret, !!binary
# nextPageToken, StartingToken: a field's name, not a value
_CAMEL_WORDS = lazy(globals(), r"^(?:[a-z]{2,}|[A-Z][a-z]+)(?:[A-Z][a-z]+){1,}$")
_ESCAPED_WORD = lazy(globals(), r"^\w+(?:\\+[nrt0])+$")  # secret\\n: a word and an escape
_SYMBOL = lazy(globals(), r"[^\w\s]|_")
SHORT_SECRET = 12  # characters: a generic value shorter than this needs a password context
SHORT_PASSWORD_MIN = 6  # characters: fewer is a PIN or a stand-in
SHORT_PASSWORD_MAX = 64
SHORT_PASSWORD_ENTROPY = 2.4  # bits per character: letmein1 (2.75), S3cr3t! (2.52) pass


def key_before(data: bytes, start: int) -> str | None:
    """The key name that ``data[start:]`` is assigned to on its line, when there is one."""
    line_start = data.rfind(b"\n", max(0, start - 200), start) + 1
    before = data[max(line_start, start - 200) : start].decode("utf-8", "replace")
    m = _KEY_BEFORE.search(before)
    if m is None:
        return None
    key: str = m.group(1) or m.group(2)
    return key


def is_password_key(key: str) -> bool:
    """``DB_PASSWORD``, ``passwd``, ``IRC_PASS``, ``Pass``, ``db.password``, ``pwd``."""
    last = regex.split(r"[.\[\]/]", key.strip(".[]/"))[-1] if key else ""
    return bool(_PASSWORD_KEY.search(last))


def is_reference_key(key: str) -> bool:
    """A key that says where a secret is or what it is like, not the secret itself:
    ``DB_PASSWORD_FILE``, ``passwordPolicy``, ``token_url``, ``PublicKeyToken``."""
    last = regex.split(r"[.\[\]/]", key.strip(".[]/"))[-1] if key else ""
    return bool(_REFERENCE_KEY.search(last))


def is_documentation_host(host: str) -> bool:
    """Hosts reserved for documentation (RFC 2606/6761) and stand-in host names."""
    return bool(_DOC_HOST.search(_bare_host(host)))


def is_local_host(host: str) -> bool:
    return bool(_LOCAL_HOST.match(_bare_host(host)))


def _bare_host(host: str) -> str:
    host = host.strip().rstrip(".")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_literal_position(data: bytes, start: int, end: int) -> bool:
    """The value is written as a literal: quoted, or in configuration syntax (``KEY=value``
    with no space, ``key: value`` at a line's start, ``<Pass>value</Pass>``), not a bare
    name in code (``password = user_pw``)."""
    before = data[start - 1 : start] if start > 0 else b""
    if before in (b'"', b"'", b"`", b">"):
        return True
    line_start = data.rfind(b"\n", max(0, start - 200), start) + 1
    head = data[line_start:start]
    if before == b"=" and not head[:-1].endswith((b" ", b"\t", b"=", b"!", b"<", b">")):
        return True  # KEY=value (env, properties, INI, a command line)
    stripped = head.lstrip(b" \t-")
    if before == b" " and regex.match(rb"^[\w.\"'-]+:\s$", stripped):
        return True  # YAML key: value
    return False


_BARE_NAME = lazy(
    globals(),  # a leading _ or __ too: _IMDSV2_TOKEN_TTL, __secret_name
    r"^_{0,2}(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]{2,}(?:[A-Z][a-z]{2,}[0-9]*)+)$",
)


def is_bare_name(value: str) -> bool:
    """``user_pw1``, ``DB_PASS``, ``_TOKEN_TTL``, ``userPassword2``: unquoted in code, a
    variable's name."""
    return bool(_BARE_NAME.match(value))


def is_code_shape(value: str) -> bool:
    """A lookup or a reference, not a literal: ``test.password``, ``cfg->pass``,
    ``getPassword()``, ``env["PW"]``, an ARN."""
    return bool(_CODE_SHAPES.match(value))


def is_path(value: str) -> bool:
    """``/run/secrets/db_password``, ``./certs/key.pem``, ``C:\\secrets\\pw.txt``, and paths
    joined by ``:`` (a bind mount ``/etc/passwd:/etc/passwd:ro``, a search path); not a random
    token that happens to start with a slash."""
    if ":" in value and value[:1] in "/~.":
        parts = value.split(":")
        return all(_one_path(p, 1) or _MOUNT_OPTION.match(p) for p in parts) and any(
            _one_path(p, 2) for p in parts
        )
    return _one_path(value, 2)


def _one_path(value: str, separators: int) -> bool:
    if not _PATH.match(value) or value.count("/") + value.count("\\") < separators:
        return False
    return not any(_PATH_SEGMENT_RANDOM.match(s) for s in regex.split(r"[/\\]", value))


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_encoded_document(value: str) -> bool:
    """Base64 of a JSON document without a signature (a pagination or state token such as
    ``eyJOZXh0VG9rZW4iOiBudWxs…`` = ``{"NextToken": null…``), not a credential."""
    if not value.startswith(("eyJ", "eyAi", "W3si")) or "." in value:
        return False
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    if '"alg"' in text or "private_key" in text or "secret" in text.lower():
        return False
    try:
        json.loads(text)
    except ValueError:
        return text.startswith(("{", "[")) and text.isprintable()
    return True


def is_not_a_credential(value: str) -> bool:
    """What a generic rule's value is when it is no credential: code, a path, a UUID, a
    version or number, an e-mail address, an encoded document."""
    return (
        is_code_shape(value)
        or is_path(value)
        or is_uuid(value)
        or bool(_VERSION.match(value))
        or bool(_NUMBERISH.match(value))
        or bool(_EMAIL.match(value))
        or is_encoded_document(value)
        or bool(_ESCAPED_WORD.match(value))
        or "\\n" in value  # "a=x\\nb=y" in a string literal: two lines, not one value
        or bool(_CAMEL_WORDS.match(value))
        or bool(_YAML_TAG.match(value))
        or value.endswith(("...", "…"))  # an elided example
        or value.startswith("/*")  # /*#__PURE__*/function: a comment opens code
    )


def is_credential_shaped(value: str) -> bool:
    """A short value shaped like a human password: 6 to 64 characters, letters with digits
    or symbols, and not an identifier, a word, a version or an algorithm name."""
    if not SHORT_PASSWORD_MIN <= len(value) <= SHORT_PASSWORD_MAX:
        return False
    if any(c.isspace() for c in value) or not any(c.isalpha() for c in value):
        return False
    if not (any(c.isdigit() for c in value) or _SYMBOL.search(value)):
        return False  # a plain word
    if len(set(value)) < 5:
        return False
    return not (_IDENTIFIER.match(value) or _TECH_WORD.match(value) or is_not_a_credential(value))
