"""Each false-positive filter on its own."""

from __future__ import annotations

import pytest

from leakscan.engine import filters


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("${DB_PASSWORD}", True),
        ("{{ .Values.db.password }}", True),
        ("$(cat /run/x)", True),
        ("%(password)s", True),
        ("#{secret}", True),
        ("k9Lq2xzA77Qw", False),
    ],
)
def test_is_templated(value: str, expected: bool) -> None:
    assert filters.is_templated(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("<your-token>", True), ("[PASSWORD]", True), ("a<b>c", False)],
)
def test_is_angle_placeholder(value: str, expected: bool) -> None:
    assert filters.is_angle_placeholder(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AKIAIOSFODNN7EXAMPLE", True),
        ("your_api_key", True),
        ("changeme", True),
        ("xxxxxxxxxxxxxxxx", True),
        ("Zp8Qw2Lk9XvB", False),
    ],
)
def test_is_placeholder_word(value: str, expected: bool) -> None:
    assert filters.is_placeholder_word(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", True),
        ("abababab", True),
        ("Zp8Qw2Lk9XvB", False),
        ("k9Lq2xzA77QwPz3m_", False),
    ],
)
def test_is_repetitive(value: str, expected: bool) -> None:
    assert filters.is_repetitive(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [("pw12345678", True), ("abcdefghij", True), ("Zp8Qw2Lk9X", False)]
)
def test_is_sequential(value: str, expected: bool) -> None:
    assert filters.is_sequential(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("os.environ['X']", True), ("process.env.TOKEN", True), ("Zp8Qw2Lk9X", False)],
)
def test_is_code_reference(value: str, expected: bool) -> None:
    assert filters.is_code_reference(value) is expected


def test_known_example_keys() -> None:
    assert filters.is_known_example("AKIAIOSFODNN7EXAMPLE")
    synthetic = "AKIAQ4WZ7LRX2JHNSDKE"  # leakscan:allow (synthetic test value)
    assert not filters.is_known_example(synthetic)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----", True),
        (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            + "MIIEow"
            + "Kq8z" * 30
            + "\n-----END RSA PRIVATE KEY-----",
            False,
        ),
    ],
)
def test_is_placeholder_body(block: str, expected: bool) -> None:
    assert filters.is_placeholder_body(block) is expected
