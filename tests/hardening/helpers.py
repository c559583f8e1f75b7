"""Hardening suite helpers: a tests-own rule folder, planted secrets, a scan harness."""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from pathlib import Path

from leakscan.api import ScanConfig, scan
from leakscan.model import ScanResult
from leakscan.sources.interface import Source, SourceOptions
from tests.helpers import aws_key_id, github_token, real_looking

RULE_ID = "test.hardening.ghp"
_B62 = string.ascii_letters + string.digits


def ghp_token(rng: random.Random | None = None) -> str:
    """A GitHub-classic-shaped token with a valid checksum (random, never a real one)."""
    return github_token(rng=rng)


def password(rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    return real_looking(lambda: "".join(rng.choice(_B62) for _ in range(10)) + "x9Q")


def write_rules(folder: Path) -> Path:
    """A rule folder with one GitHub-token rule and one AWS-key-id rule."""
    folder.mkdir(parents=True, exist_ok=True)
    gh, aws = ghp_token(), aws_key_id()
    (folder / "hardening.yaml").write_text(
        "rules:\n"
        f"  - id: {RULE_ID}\n"
        "    name: Hardening test GitHub token\n"
        "    pattern: '(ghp_[A-Za-z0-9]{36})'\n"
        "    keywords: [ghp_]\n"
        "    confidence: high\n"
        "    severity: high\n"
        "    examples:\n"
        f"      - text: 'token = {gh}'\n"
        f"        secret: '{gh}'\n"
        "    negative_examples:\n"
        "      - 'token = ghp_short'\n"
        "  - id: test.hardening.aws\n"
        "    name: Hardening test AWS key id\n"
        "    pattern: '\\b(AKIA[A-Z2-7]{16})\\b'\n"
        "    keywords: [AKIA]\n"
        "    confidence: high\n"
        "    severity: high\n"
        "    examples:\n"
        f"      - text: 'aws_access_key_id = {aws}'\n"
        f"        secret: '{aws}'\n"
        "    negative_examples:\n"
        "      - 'AKIA_NOT_A_KEY'\n",
        encoding="utf-8",
    )
    return folder


def run_sources(
    sources: Iterable[Source], rules: Path | None = None, options: SourceOptions | None = None
) -> ScanResult:
    """Scan with the API. Any exception but a LeakscanError escapes (and fails the test)."""
    config = ScanConfig(
        rule_paths=(rules,) if rules else (),
        include_builtin=rules is None,
        options=options or SourceOptions(),
    )
    result = scan(list(sources), config)
    for skip in result.skipped:
        assert skip.where is not None and skip.reason, skip
    for error in result.errors:
        assert isinstance(error, str) and error and "\n" not in error.strip(), error
    return result
