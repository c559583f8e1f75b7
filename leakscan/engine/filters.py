"""False-positive filters: small named predicates over a candidate secret.

Each returns True when the candidate is *not* a real secret (a placeholder, a template, a
documented example...). They take what they need as arguments; no global settings.
"""

from __future__ import annotations

import itertools

import regex

# ${VAR}, $VAR, $(cmd), {{ .Values.x }}, {% x %}, <%= x %>, #{x}, %(x)s, %VAR%, @VAR@, __VAR__
_TEMPLATE = regex.compile(
    r"""\$\{[^}]*\}?|\$\([^)]*\)?|^\$[A-Za-z_][A-Za-z0-9_]*$|\{\{.*?\}\}|\{%.*?%\}|<%.*?%>|"""
    r"""\#\{[^}]*\}|%\([A-Za-z_]+\)[sd]|^%[A-Za-z_][A-Za-z0-9_]*%$|^@[A-Za-z_]+@$|"""
    r"""^__[A-Z0-9_]+__$|\{[A-Za-z_][A-Za-z0-9_.]*\}$""",
    regex.S,
)
_ANGLE = regex.compile(r"^<[^<>]{1,80}>$|^\[[A-Za-z _-]{2,60}\]$")
_PLACEHOLDER_WORDS = regex.compile(
    r"(?i)(?:example|sample|dummy|placeholder|changeme|change[_-]?me|your[_-]?(?:api[_-]?)?"
    r"(?:key|token|secret|password|pass)|insert[_-]?|replace[_-]?me|redacted|fake|"
    r"not[_-]?a[_-]?(?:real|secret)|todo|fixme|xxxx|\*\*\*\*|\.\.\.\.|<.+>|none|null|"
    r"undefined|password123|secret123|test[_-]?(?:key|token|secret|password))"
)
_CODE_REF = regex.compile(
    r"""^(?:os\.(?:environ|getenv)|process\.env|env\(|getenv\(|ENV\[|System\.getenv|"""
    r"""settings\.|config\.|self\.|this\.|args\.|params\.|request\.|secrets\.|vault:|"""
    r"""ref\+|arn:aws:secretsmanager|projects/[^/]+/secrets/)"""
)
KNOWN_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "ASIAIOSFODNN7EXAMPLE",
    }
)


def is_templated(secret: str) -> bool:
    """``${VAR}``, ``{{ .Values.x }}``, ``$(cat /run/secrets/x)``, ``%(pw)s``..."""
    return bool(_TEMPLATE.search(secret))


def is_angle_placeholder(secret: str) -> bool:
    """``<your-token>``, ``[PASSWORD]``."""
    return bool(_ANGLE.match(secret))


def is_placeholder_word(secret: str) -> bool:
    """Words that mark a value as a stand-in: EXAMPLE, changeme, your_api_key, xxxx..."""
    return bool(_PLACEHOLDER_WORDS.search(secret))


def is_known_example(secret: str) -> bool:
    """Keys that vendors publish in their documentation."""
    return secret in KNOWN_EXAMPLES


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


def is_placeholder(secret: str) -> bool:
    """Any of the filters above."""
    return (
        is_templated(secret)
        or is_angle_placeholder(secret)
        or is_known_example(secret)
        or is_placeholder_word(secret)
        or is_repetitive(secret)
        or is_sequential(secret)
        or is_masked(secret)
        or is_code_reference(secret)
    )


def is_placeholder_body(block: str) -> bool:
    """A key block whose body is elided (``...``) or a stand-in (``xxxx``, ``<key>``)."""
    lines = [ln.strip() for ln in block.strip().splitlines()]
    body = "".join(ln for ln in lines if ln and not ln.startswith("-----") and ":" not in ln)
    return len(body) < 40 or "..." in body or "…" in body or is_repetitive(body)
