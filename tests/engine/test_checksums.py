"""GitHub's and npm's token checksum, checked against an implementation written here from
GitHub's own description of the format, independent of ``leakscan.engine.checksums``.

GitHub ("Behind GitHub's new authentication token formats", 2021): a token is a prefix such
as ``ghp_``, 30 random base62 characters, and a 6-character checksum: the CRC32 of the
random part, in base62 (digits, then upper case, then lower case), zero-padded. npm's
tokens (``npm_``) use the same format.
"""

from __future__ import annotations

import binascii
import json
import secrets
import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.engine.checksums import github, npm
from leakscan.engine.detector import Detector
from leakscan.rules.loader import load_rules

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _check(random_part: str) -> str:
    n = binascii.crc32(random_part.encode("ascii"))
    digits = []
    for _ in range(6):
        n, r = divmod(n, len(_ALPHABET))
        digits.append(_ALPHABET[r])
    return "".join(reversed(digits))


def _token(prefix: str, prefixed_crc: bool = False) -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(30))
    covered = prefix + random_part if prefixed_crc else random_part
    return prefix + random_part + _check(covered)


# The worked example in a public write-up of the format (random part, then its checksum).
PUBLISHED = "ghp_" + "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ" + "0mLq17"  # leakscan:allow (public example)


def test_the_published_example_passes() -> None:
    assert _check("zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ") == "0mLq17"
    assert github(PUBLISHED)


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_"])
def test_github_tokens_made_as_github_describes_pass(prefix: str) -> None:
    for _ in range(200):
        assert github(_token(prefix))


def test_npm_tokens_pass() -> None:
    for _ in range(200):
        assert npm(_token("npm_"))


@pytest.mark.parametrize("prefix", ["ghp_", "npm_"])
def test_a_crc_over_prefix_and_body_fails(prefix: str) -> None:
    """The old, wrong reading of the format: such tokens are not real ones."""
    failing = [t for t in (_token(prefix, prefixed_crc=True) for _ in range(50)) if not github(t)]
    assert len(failing) >= 49  # a CRC collision is possible, not likely


def test_one_changed_character_fails() -> None:
    token = _token("ghp_")
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert not github(flipped)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector(load_rules())  # the compiled builtin rules, from the cache


@pytest.mark.parametrize(
    ("prefix", "rule_id"),
    [
        ("ghp_", "leakscan.github.pat-classic"),
        ("gho_", "leakscan.github.oauth"),
        ("ghu_", "leakscan.github.user-to-server"),
        ("ghs_", "leakscan.github.server-to-server"),
        ("npm_", "leakscan.npm.access-token"),
    ],
)
def test_real_format_tokens_are_high_confidence_findings(
    detector: Detector, prefix: str, rule_id: str
) -> None:
    token = _token(prefix)
    matches = detector.scan(f"export TOKEN={token}\n".encode())
    assert [(m.rule_id, m.secret, m.confidence) for m in matches] == [(rule_id, token, "high")]


def test_a_failing_checksum_is_counted_not_reported(detector: Detector) -> None:
    detector.checksum_failures.clear()
    bad = _token("ghp_", prefixed_crc=True)
    assert not github(bad)
    matches = detector.scan(f"GITHUB_TOKEN={bad}\n".encode())
    assert [m for m in matches if m.confidence != "low"] == []
    assert detector.checksum_failures["leakscan.github.pat-classic"] == 1


def test_the_report_says_how_many_tokens_failed_their_checksum(tmp_path: Path) -> None:
    """Never silent: the JSON report's ``skipped`` list names the rule and the reason."""
    (tmp_path / "ci.env").write_text(f"DEPLOY_TOKEN={_token('ghp_', prefixed_crc=True)}\n")
    (tmp_path / "real.env").write_text(f"GH={_token('ghp_')}\n")
    result = CliRunner().invoke(app, ["scan", str(tmp_path), "-f", "json", "--no-progress"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    high = [f for f in report["findings"] if f["confidence"] == "high"]
    assert [f["rule_id"] for f in high] == ["leakscan.github.pat-classic"]
    reasons = [s["reason"] for s in report["skipped"]]
    assert any("leakscan.github.pat-classic" in r and "checksum invalid" in r for r in reasons)
