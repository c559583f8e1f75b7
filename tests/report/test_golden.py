"""Every report format over one fixed scan, compared with its golden file.

The goldens in ``tests/report/golden/`` change only on purpose: run

    LEAKSCAN_UPDATE_GOLDEN=1 python -m pytest tests/report/test_golden.py

and review the diff. The scan is a fixed result (every location kind, a validation, a skip)
over the small files of ``fixtures/reports/`` (``fixtures/reports/make.py`` writes them), so
the table shows their lines in context. The table is rendered 100 columns wide, no colour.
"""

from __future__ import annotations

import difflib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leakscan.model import Finding, Location, Provenance, ScanResult, Skip, Stats, Validation
from leakscan.report import reporter
from leakscan.report.gitlab import GitlabReporter
from leakscan.report.sarif import SarifReporter
from leakscan.report.table import TableReporter

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
INPUTS = REPO / "fixtures" / "reports"
UPDATE = os.environ.get("LEAKSCAN_UPDATE_GOLDEN") == "1"
# the synthetic secrets of fixtures/reports/make.py
GITHUB = "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"  # leakscan:allow (synthetic test value)
AWS = "AKIAYA5ZMASRK7CMFBQM"  # leakscan:allow (synthetic test value)
DB_PASSWORD = "Xk29vLq8ZpW3nR7x"  # leakscan:allow (synthetic test value)
IMAGE = {
    "image": "registry.example/shop/app:1.4",
    "image_digest": "sha256:" + "9f" * 32,
    "platform": "linux/amd64",
}
KEY_BLOCK = "\n".join(  # a multi-line secret: the reports show what it is, never its armor
    ["-----" + "BEGIN RSA PRIVATE KEY-----", "MIIBOgIBAAJBAK" + "x" * 50, "-----" + "END RSA"]
)


def fixed_result() -> ScanResult:
    aws = Finding(
        "a1" * 32, "leakscan.aws.access-key-id", "AWS access key ID", "critical", "high",
        "AKIA…FBQM", AWS,
        [
            Location(Provenance("file", {"path": "src/app.env"}), 2, 19),
            Location(
                Provenance("image-layer", {
                    **IMAGE,
                    "layer_digest": "sha256:" + "3c" * 32,
                    "layer_index": 2,
                    "created_by": "/bin/sh -c #(nop) COPY file:6e01b3c2a9d8f7e6c5b4a3928170f6e5d4c3b2"
                    "a1908f7e6d5c4b3a291807f6e5 in /root/.aws/credentials ",
                    "path": "root/.aws/credentials",
                    "state": "deleted",
                    "deleted_in_layer": 4,
                }),
                3,
            ),
            Location(
                Provenance("git", {
                    "repo": "shop", "commit": "0badc0ffee" * 4, "author": "Ann Dev <ann@shop>",
                    "date": "2026-11-02T10:00:00+00:00", "refs": ["refs/heads/main"],
                    "path": "src/app.env", "in_head": False,
                }),
                2,
            ),
        ],
    )  # fmt: skip
    github = Finding(
        "b2" * 32, "leakscan.github.pat-classic", "GitHub personal access token (classic)",
        "high", "high", "ghp_…9ymy", GITHUB,
        [
            Location(Provenance("file", {"path": "src/deploy.sh"}), 3, 37),
            Location(
                Provenance("git", {
                    "repo": "shop", "commit": "c0ffee0bad" * 4, "author": "Bob <bob@shop>",
                    "date": "2026-11-03T09:30:00+00:00", "path": None, "field": "message",
                }),
                4,
            ),
            Location(Provenance("git", {"repo": "shop", "path": "ci/token.txt", "staged": True}), 1),
        ],
        validation=Validation("valid", "2026-12-04T10:00:00+00:00", "octocat", "github"),
    )  # fmt: skip
    postgres = Finding(
        "c3" * 32, "leakscan.postgres.connection-url", "PostgreSQL connection URL with password",
        "medium", "high", "postgres://app:…@db", DB_PASSWORD,
        [
            Location(Provenance("file", {"path": "src/db.env"}), 1, 29),
            Location(Provenance("image-config", {**IMAGE, "field": "Env[DATABASE_URL]"})),
        ],
    )  # fmt: skip
    key = Finding(
        "d4" * 32, "leakscan.private-key.rsa", "RSA private key (PKCS#1)", "low", "high",
        "PRIVATE KEY (RSA) …", KEY_BLOCK,
        [Location(Provenance("file", {"path": "/opt/elsewhere/id_rsa"}), 1, 1)],
    )  # fmt: skip
    return ScanResult(
        [aws, github, postgres, key],
        [Skip("src/big.bin", "binary file (--scan-binary scans it)")],
        Stats(blobs=12, bytes=34_567, seconds=1.234, below_min_confidence=1),
        rules_digest="sha256:" + "00" * 32,
        rule_references={
            "leakscan.aws.access-key-id": (
                "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
            ),
            "leakscan.github.pat-classic": (
                "https://docs.github.com/en/authentication/keeping-your-account-and-data-secure/"
                "about-authentication-to-github",
            ),
        },
    )


def _render(fmt: str) -> str:
    result = fixed_result()
    if fmt == "table":
        return TableReporter(width=100, color=False).render(result)
    if fmt == "sarif":
        return SarifReporter(root=Path("/work/shop")).render(result)
    if fmt == "gitlab":
        return GitlabReporter(clock=lambda: datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)).render(
            result
        )
    return reporter(fmt).render(result)


FILES = {
    "table": "table.txt",
    "json": "report.json",
    "jsonl": "report.jsonl",
    "sarif": "report.sarif",
    "gitlab": "gl-secret-detection-report.json",
    "junit": "junit.xml",
    "html": "report.html",
}


@pytest.mark.parametrize("fmt", list(FILES))
def test_report_matches_its_golden_file(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INPUTS)  # the table reads src/… for the lines in context
    text = _render(fmt)
    golden = GOLDEN / FILES[fmt]
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file: run LEAKSCAN_UPDATE_GOLDEN=1 pytest {__file__}"
    expected = golden.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), str(golden), "rendered"
            )
        )
        pytest.fail(
            f"{fmt} report differs from {golden.name} (if on purpose: "
            f"LEAKSCAN_UPDATE_GOLDEN=1 pytest {Path(__file__).name}):\n{diff[:6000]}"
        )


@pytest.mark.parametrize("fmt", list(FILES))
def test_goldens_hold_no_secret_and_no_key_armor(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(INPUTS)
    text = _render(fmt)
    for secret in (GITHUB, AWS, DB_PASSWORD, "MIIBOgIBAAJBAK"):
        assert secret not in text, (fmt, secret[:6])
    assert "BEGIN RSA" not in text and "-----BEGIN" not in text
    if fmt in ("json", "sarif", "gitlab"):
        json.loads(text)


def test_golden_sarif_is_valid_sarif() -> None:
    import jsonschema

    from tests.report.test_ci_reports import official_sarif_schema

    doc = json.loads((GOLDEN / FILES["sarif"]).read_text())
    jsonschema.Draft4Validator(official_sarif_schema()).validate(doc)
