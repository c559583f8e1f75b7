"""Confluent Cloud's API secret checksum, checked against an implementation written here from
Confluent's own description, independent of ``leakscan.engine.checksums`` (and of zlib and
base64: the CRC32 and the base64 digits are computed bit by bit below).

Confluent ("API key format", docs.confluent.io): API secrets created since 30 July 2025 are
``cflt`` followed by 60 characters of ``A-Z a-z 0-9 + /``, the final 6 of which are a
base64-encoded CRC32 checksum of the 54 characters before them. The example secret on that
page checks with the CRC's 4 bytes taken little-endian.
"""

from __future__ import annotations

import secrets
import string

import pytest

from leakscan.engine.checksums import confluent, verify
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules

_B64 = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
RULE = "leakscan.confluent.api-secret-cflt"

# The example secret printed on Confluent's "API key format" page.
DOC_EXAMPLE = "cfltT8d8RzkNseTMEDKcjNM1BZTFPHqRn/dQm9q7w6SjzZ12wZfwjaJdipHZtDjw"  # leakscan:allow


def _crc32(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _check(body: str) -> str:
    """The CRC32's bytes, least significant first, as the 6 base64 digits they fill."""
    crc = _crc32(body.encode("ascii"))
    bits = "".join(f"{(crc >> (8 * i)) & 0xFF:08b}" for i in range(4)) + "0000"
    return "".join(_B64[int(bits[i : i + 6], 2)] for i in range(0, 36, 6))


def _secret() -> str:
    body = "".join(secrets.choice(_B64) for _ in range(54))
    return "cflt" + body + _check(body)


def test_the_documented_example_passes() -> None:
    assert _check(DOC_EXAMPLE[4:58]) == DOC_EXAMPLE[58:]
    assert confluent(DOC_EXAMPLE)


def test_secrets_made_as_confluent_describes_pass() -> None:
    for _ in range(200):
        assert verify("confluent", _secret())


@pytest.mark.parametrize("position", [4, 30, 57, 63])
def test_one_changed_character_fails(position: int) -> None:
    token = _secret()
    other = "A" if token[position] != "A" else "B"
    assert not confluent(token[:position] + other + token[position + 1 :])


def test_wrong_lengths_and_prefixes_fail() -> None:
    token = _secret()
    assert not confluent(token[:-1])
    assert not confluent(token + "A")
    assert not confluent("CFLT" + token[4:])


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())  # the compiled builtin rules, from the cache


@pytest.mark.parametrize(
    "line",
    [
        "CONFLUENT_CLOUD_API_SECRET={}",
        'sasl.jaas.config=...PlainLoginModule required username="ABCD1234EFGH5678" password="{}";',
        "echo {} | base64 -d",
    ],
)
def test_a_cflt_secret_is_one_high_confidence_finding(detector: Detector, line: str) -> None:
    token = _secret()
    matches = detector.scan((line.format(token) + "\n").encode())
    assert [(m.rule_id, m.secret, m.confidence) for m in matches] == [(RULE, token, "high")]


def test_a_wrong_checksum_is_counted_not_reported(detector: Detector) -> None:
    detector.checksum_failures.clear()
    token = _secret()
    bad = token[:-1] + ("A" if token[-1] != "A" else "Q")
    matches = detector.scan(f"CONFLUENT_API_SECRET={bad}\n".encode())
    assert [m for m in matches if m.confidence != "low"] == []
    assert detector.checksum_failures[RULE] == 1
