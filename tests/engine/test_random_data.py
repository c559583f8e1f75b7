"""Random data is not a secret: a provider-shaped stretch inside a run of random base64 or
hex, a hash, an integrity field or a UUID gives no medium or high finding."""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest

from leakscan.engine import filters
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules
from tests.helpers import random_chars

# shapes with a distinctive prefix and nothing more than a word boundary around them: inside
# random base64 they occur by chance (cio + 32 alphanumerics about once per 2 MB)
SHAPE_RULES = r"""
rules:
  - id: test.crates
    name: crates.io-shaped
    pattern: '\b(cio[A-Za-z0-9]{32})\b'
    keywords: [cio]
    entropy: 3.0
    confidence: high
    examples: [{text: 'token = "cioN3bL7qT2xV9mK4pR8sW1yZ6aD0fH5jG3"', secret: cioN3bL7qT2xV9mK4pR8sW1yZ6aD0fH5jG3}]  # leakscan:allow (synthetic test value)
    negative_examples: ['cio']
  - id: test.alibaba
    name: Alibaba-shaped
    pattern: '\b(LTAI[A-Za-z0-9]{12,20})\b'
    keywords: [LTAI]
    entropy: 3.0
    confidence: high
    examples: [{text: 'id: LTAI5tQ9xK2mW7vB3nR8', secret: LTAI5tQ9xK2mW7vB3nR8}]  # leakscan:allow (synthetic test value)
    negative_examples: ['LTAI']
  - id: test.google-refresh
    name: Google-refresh-shaped
    pattern: '(1//0[A-Za-z0-9_-]{40,100})'
    keywords: ['1//0']
    entropy: 3.0
    confidence: high
    examples: [{text: 'refresh: 1//0gX3kT9mQ2vL7pW4nB8sR1yZ6aD0fH5jG3cV2xK9mN4bQ7', secret: 1//0gX3kT9mQ2vL7pW4nB8sR1yZ6aD0fH5jG3cV2xK9mN4bQ7}]  # leakscan:allow (synthetic test value)
    negative_examples: ['1//0']
  - id: test.hex-key
    name: 32 hex after a prefix
    pattern: '(?i)(?:dd|key)[_-]?([a-f0-9]{32})'
    keywords: [dd, key]
    entropy: 3.0
    confidence: high
    examples: [{text: 'dd_5e7f0a1b2c3d4e5f60718293a4b5c6d7', secret: 5e7f0a1b2c3d4e5f60718293a4b5c6d7}]  # leakscan:allow (synthetic test value)
    negative_examples: ['dd_']
"""


def random_text(seed: int, size: int = 5_000_000) -> bytes:
    """Seeded random base64 (MIME-wrapped, long lines, URL-safe) and hex, ``size`` bytes."""
    rng = random.Random(seed)
    quarter = size // 4
    parts = []
    wrapped = base64.b64encode(rng.randbytes(quarter * 3 // 4)).decode()
    parts.append("\n".join(wrapped[i : i + 76] for i in range(0, len(wrapped), 76)))
    long_lines = base64.b64encode(rng.randbytes(quarter * 3 // 4)).decode()
    parts.append("\n".join(long_lines[i : i + 4000] for i in range(0, len(long_lines), 4000)))
    urlsafe = base64.urlsafe_b64encode(rng.randbytes(quarter * 3 // 4)).decode()
    parts.append("\n".join(urlsafe[i : i + 100] for i in range(0, len(urlsafe), 100)))
    hexed = rng.randbytes(quarter // 2).hex()
    parts.append("\n".join(hexed[i : i + 64] for i in range(0, len(hexed), 64)))
    return ("\n".join(parts) + "\n").encode()


@pytest.fixture(scope="module")
def builtin() -> Detector:
    return Detector(load_rules())


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    folder = tmp_path_factory.mktemp("shapes")
    (folder / "shapes.yaml").write_text(SHAPE_RULES)
    return Detector(load_rules([folder], include_builtin=False), use_cache=False)


def medium_or_high(det: Detector, data: bytes) -> list[tuple[str, str, int]]:
    return [
        (m.rule_id, m.secret, m.line) for m in det.scan(data) if m.confidence in ("medium", "high")
    ]


def test_five_megabytes_of_random_base64_and_hex_give_no_medium_or_high(
    builtin: Detector,
) -> None:
    assert medium_or_high(builtin, random_text(seed=12)) == []


def test_provider_shapes_met_by_chance_in_random_data_are_dropped(shapes: Detector) -> None:
    data = random_text(seed=7)
    assert medium_or_high(shapes, data) == []
    assert shapes.random_stretches > 0  # the shapes did occur, and were judged random


def test_provider_shapes_planted_inside_random_runs_are_dropped(shapes: Detector) -> None:
    rng = random.Random(3)
    lines = []
    for token in (
        "cio" + random_chars(32, rng=rng),
        "LTAI" + random_chars(16, rng=rng),
        "1//0" + random_chars(60, rng=rng),
    ):
        lines.append(f"{random_chars(30, rng=rng)}+{token}/{random_chars(30, rng=rng)}")
        lines.append(f"{token}/{random_chars(50, rng=rng)}")  # at a wrapped line's start
        lines.append(f"  key = '{token}'")  # standing alone: found
    found = [(m.rule_id, m.line) for m in shapes.scan("\n".join(lines).encode())]
    assert sorted(line for _, line in found) == [3, 6, 9]


@pytest.mark.parametrize(
    "line",
    [
        '  "integrity": "sha512-2y9mcgWY3FSCf3PsLHoaUXxkP5eBsTJLVEbRtNdAW4ewQHxUqyjRBXXmx6ImiOzl'
        'ItWCDoFiZAKCRt8rg6V/Sg==",',
        '<script src="x.js" integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1k'
        'PzQho1wx4JwY8wC" crossorigin="anonymous"></script>',
        'checksum = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
        "h1:Kq8z3VtL2mP9xW4nB7sR1yZ6aD0fH5jG3cV2xK9mN4b=",
        "dd-trace 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "key-8f14e45fceea167a5a36dedd4bea2543ab45fd1c0b3e8a8b8f6a1c3f2d5e7a9b",
    ],
)
def test_hashes_and_integrity_fields_give_nothing(shapes: Detector, line: str) -> None:
    assert medium_or_high(shapes, line.encode()) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x\nkA9+cio" + "Zq8Lm2Pw4Rt7Yn3Bv6Xc9Kd1Fg5Hj0Sa2" + "/pQ7mZ2xLr9\n", True),
        ("2f1c0c8e5b7a4d369a510e4b7f6b2c19" + "dd" + "4e5f60718293a4b5c6d7e8f9a0b1c2d3", True),
        ("token = cioZq8Lm2Pw4Rt7Yn3Bv6Xc9Kd1Fg5Hj0Sa2\n", False),
        # a URL path and an AWS credential scope around a token are not random data
        ("https://hooks.example.com/services/T0A1B2C3D/B4E5F6G7H/Zq8Lm2Pw4Rt7Yn3Bv6Xc9Kd1", False),
        (
            "Credential=AKIAQ4WZ7LRX2JHNSDKE/20240101/us-east-1/s3/aws4_request",  # leakscan:allow
            False,
        ),
    ],
)
def test_is_inside_random_run(text: str, expected: bool) -> None:
    data = text.encode()
    if "cio" in text:
        start = data.index(b"cio")
        end = start + 35
    elif "dd4e" in text:
        start, end = data.index(b"dd4e") + 2, data.index(b"dd4e") + 34
    elif "services" in text:
        start, end = data.rindex(b"/") + 1, len(data)
    else:
        start = data.index(b"AKIA")
        end = start + 20
    assert filters.is_inside_random_run(data, start, end) is expected


def test_tokens_one_per_line_are_not_stretches_of_a_run(tmp_path: Path) -> None:
    """A token on its own line (a list of keys, one per line) is not a stretch of a run."""
    rng = random.Random(9)
    tokens = ["cio" + random_chars(32, rng=rng) for _ in range(3)]
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "shapes.yaml").write_text(SHAPE_RULES)
    det = Detector(load_rules([folder], include_builtin=False), use_cache=False)
    assert {m.secret for m in det.scan("\n".join(tokens).encode())} == set(tokens)
