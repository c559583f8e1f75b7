"""Private keys are judged by their body: a stand-in word in a header, a comment or by chance
in the body does not drop a complete key; a key summed from string literals in code is found."""

from __future__ import annotations

import base64
import random

import pytest

from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules


def pem_lines(seed: int) -> list[str]:
    """A synthetic RSA-shaped PEM (random body, 64-character lines)."""
    body = "MIIEow" + base64.b64encode(random.Random(seed).randbytes(860)).decode()
    return [
        "-----BEGIN RSA PRIVATE KEY-----",
        *(body[i : i + 64] for i in range(0, len(body), 64)),
        "-----END RSA PRIVATE KEY-----",
    ]


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector(load_rules())


def rules_found(det: Detector, text: str) -> list[str]:
    return [m.rule_id for m in det.scan(text.encode())]


def test_a_stand_in_word_in_a_comment_or_the_body_does_not_drop_the_key(det: Detector) -> None:
    lines = pem_lines(1)
    lines[1] = "FAKE9" + lines[1][5:]  # a stand-in word, as a random body may spell one
    escaped = 'PRIVATE_KEY="' + "\\n".join(lines) + '"  # fake key for the test suite'
    assert rules_found(det, escaped) == ["leakscan.private-key.escaped-pem"]
    commented = "# fake key, do not use\n" + "\n".join(lines) + "\n"
    assert rules_found(det, commented) == ["leakscan.private-key.rsa"]


@pytest.mark.parametrize(
    "build",
    [
        # Java / C# / JavaScript: "line\n" +
        lambda ls: 'String key = "' + '\\n" +\n    "'.join(ls) + '";',
        # Python: implicit concatenation in parentheses
        lambda ls: "KEY = (\n" + "\n".join(f'    "{line}\\n"' for line in ls) + "\n)",
        # JavaScript with single quotes, one line each
        lambda ls: "const key = '" + "\\n' +\n  '".join(ls) + "';",
    ],
)
def test_a_key_built_by_string_concatenation_is_found(det, build) -> None:  # type: ignore[no-untyped-def]
    matches = det.scan(build(pem_lines(2)).encode())
    assert [m.rule_id for m in matches] == ["leakscan.private-key.concatenated-pem"]
    assert "MIIEow" in matches[0].secret


def test_a_concatenated_stand_in_is_not_a_key(det: Detector) -> None:
    text = (
        'String key = "-----BEGIN RSA PRIVATE KEY-----\\n" +\n'
        '    "MIIEowIBAAKCAQEA...\\n" +\n'
        '    "...\\n" +\n'
        '    "-----END RSA PRIVATE KEY-----";'
    )
    assert rules_found(det, text) == []


def test_a_documentation_key_whose_body_spells_example_is_not_a_key(det: Detector) -> None:
    lines = pem_lines(3)
    lines[1] = "EXAMPLEBAAKCAQEA" + lines[1][16:]
    assert rules_found(det, 'KEY="' + "\\n".join(lines) + '"') == []
    assert rules_found(det, "\n".join(lines)) == []


def test_a_pem_flattened_to_one_line_is_judged_by_its_body(det: Detector) -> None:
    lines = pem_lines(3)
    flat = "RSA_KEY='" + " ".join(lines) + "'"  # leakscan:allow
    assert "leakscan.private-key.rsa" in rules_found(det, flat)
    stand_in = "RSA_KEY='-----BEGIN RSA PRIVATE KEY----- ... -----END RSA PRIVATE KEY-----'"
    assert rules_found(det, stand_in) == []


def test_a_service_account_key_whose_body_runs_into_the_end_marker_is_found(
    det: Detector,
) -> None:
    body = "".join(pem_lines(4)[1:-1]).replace("MIIEow", "MIIEvQ", 1)  # one line
    text = (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        + body
        + '-----END PRIVATE KEY-----\\n"}'
    )
    assert "leakscan.gcp.service-account-key" in rules_found(det, text)
