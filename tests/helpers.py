"""Test helpers: synthetic secrets with the right shape and checksum, a small rule folder."""

from __future__ import annotations

import random
import string
import zlib
from collections.abc import Callable
from pathlib import Path

from leakscan.engine.checksums import base62
from leakscan.engine.filters import is_placeholder

BASE62 = string.ascii_letters + string.digits
_SYSTEM = random.SystemRandom()


def random_chars(n: int, alphabet: str = BASE62, rng: random.Random | None = None) -> str:
    pick = (rng or _SYSTEM).choice
    return "".join(pick(alphabet) for _ in range(n))


def real_looking(make: Callable[[], str]) -> str:
    """A made-up value that no placeholder filter rejects: about one random token in 7,000
    spells a stand-in word (``faKe``, ``TeSt``...) or a run, and would not be a finding."""
    while True:
        value = make()
        if not is_placeholder(value):
            return value


def github_token(prefix: str = "ghp_", rng: random.Random | None = None) -> str:
    """A GitHub-style token with a valid CRC32 checksum (synthetic)."""

    def make() -> str:
        body = random_chars(30, rng=rng)  # the CRC32 covers the random part, not the prefix
        return prefix + body + base62(zlib.crc32(body.encode()), 6)

    return real_looking(make)


def aws_key_id(rng: random.Random | None = None) -> str:
    return real_looking(lambda: "AKIA" + random_chars(16, string.ascii_uppercase + "234567", rng))


def password() -> str:
    """A 14-character password of distinct characters (so every one clears the entropy
    floor a real random password of that length clears)."""

    def make() -> str:
        chars = _SYSTEM.sample(BASE62, 13)
        return "".join(chars[:6]) + "#" + "".join(chars[6:])

    return real_looking(make)


TEST_RULES = r"""
rules:
  - id: test.github.pat
    name: Test GitHub token
    pattern: '\b(ghp_[A-Za-z0-9]{36})\b'
    keywords: [ghp_]
    checksum: github
    entropy: 3.0
    confidence: high
    severity: high
    examples:
      - text: 'GITHUB_TOKEN=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'  # leakscan:allow (synthetic test value)
        secret: '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'  # leakscan:allow (synthetic test value)
    negative_examples: ['ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']
  - id: test.aws.key-id
    name: Test AWS key id
    pattern: '\b((?:AKIA|ASIA)[A-Z2-7]{16})\b'
    keywords: [AKIA, ASIA]
    entropy: 3.0
    confidence: high
    severity: critical
    examples: [{text: 'aws_access_key_id = AKIAQ4WZ7LRX2JHNSDKE', secret: AKIAQ4WZ7LRX2JHNSDKE}]  # leakscan:allow (synthetic test value)
    negative_examples: ['AKIAIOSFODNN7EXAMPLE']
  - id: leakscan.generic.test-password
    name: Test password assignment
    pattern: '(?i)\b(?:password|passwd|pwd)\s*[:=]\s*["'']?([^\s"'']{8,64})'
    keywords: [password, passwd, pwd]
    entropy: 2.8
    confidence: medium
    severity: medium
    examples: [{text: 'password = "k9Lq2xzA77Qw"', secret: 'k9Lq2xzA77Qw'}]  # leakscan:allow (synthetic test value)
    negative_examples: ['password = "${DB_PASSWORD}"']
  - id: test.lookaround
    name: Test rule Hyperscan cannot take
    pattern: '(?<=zq_)([a-z0-9]{20})(?![a-z0-9])'
    keywords: [zq_]
    entropy: 3.0
    examples: [{text: 'key zq_a8f3k2m9x7q1w5e4r6t0', secret: 'a8f3k2m9x7q1w5e4r6t0'}]  # leakscan:allow (synthetic test value)
    negative_examples: ['zq_aaaaaaaaaaaaaaaaaaaa']
  - id: test.context
    name: Test secret-named value
    pattern: '^\s*["'']?([^\s"'']{8,200})["'']?\s*$'
    keywords: [x]
    context: '(?i)(pass|secret|token|key)'
    entropy: 2.8
    examples: [{text: 'k9#Lq2!xzW', secret: 'k9#Lq2!xzW', context: DB_PASSWORD}]  # leakscan:allow (synthetic test value)
    negative_examples: [{text: '${DB_PASSWORD}', context: DB_PASSWORD}]
"""


def write_rules(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test-rules.yaml").write_text(TEST_RULES)
    return directory
