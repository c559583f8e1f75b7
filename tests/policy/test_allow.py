"""Inline allow comments, on the line or the line above, in the comment styles teams use."""

from __future__ import annotations

import pytest

from leakscan.api import ScanConfig, Scanner
from leakscan.model import Blob, Provenance
from leakscan.policy import Policy
from leakscan.policy.allow import line_allows
from tests.helpers import aws_key_id, github_token, write_rules
from tests.policy.conftest import Project, secrets_in


def test_allow_comments_in_yaml_python_shell_and_dockerfile(project: Project) -> None:
    keys = {name: aws_key_id() for name in ("yaml", "py", "sh", "docker", "above", "kept")}
    project.write(
        "k8s/deploy.yaml", f"env:\n  - name: AWS_KEY\n    value: {keys['yaml']}  # leakscan:allow\n"
    )
    project.write("app/settings.py", f'KEY = "{keys["py"]}"  # leakscan:allow test.aws.key-id\n')
    project.write("scripts/run.sh", f"#!/bin/sh\nexport KEY={keys['sh']} # leakscan:allow\n")
    project.write("Dockerfile", f"FROM alpine\n# leakscan:allow\nENV KEY={keys['docker']}\n")
    project.write("app/above.py", f'# test fixture, leakscan:allow\nKEY2 = "{keys["above"]}"\n')
    project.write("app/kept.py", f'# unrelated comment\nKEY3 = "{keys["kept"]}"\n')

    code, report = project.scan_json("k8s", "app", "scripts", "Dockerfile")
    assert code == 1
    assert secrets_in(report) == {"AKIA…" + keys["kept"][-4:]}


def test_allow_with_other_rule_ids_does_not_suppress(project: Project) -> None:
    key = aws_key_id()
    project.write("a.py", f'KEY = "{key}"  # leakscan:allow test.github.*,other.rule\n')
    code, report = project.scan_json("a.py")
    assert code == 1 and len(report["findings"]) == 1


@pytest.mark.parametrize(
    "marker",
    [
        "gitleaks:allow",
        "betterleaks:allow",
        "kingfisher:ignore",
        "trufflehog:ignore",
        "pragma: allowlist secret",
        "nosecret",
    ],
)
def test_foreign_markers_honoured_and_can_be_turned_off(project: Project, marker: str) -> None:
    project.write("a.sh", f"export TOKEN={github_token()}  # {marker}\n")
    assert project.scan("a.sh").exit_code == 0
    assert project.scan("a.sh", "--no-foreign-allow").exit_code == 1
    project.config("foreign_allow = false\n")
    assert project.scan("a.sh").exit_code == 1


def test_own_marker_still_works_without_foreign_markers(project: Project) -> None:
    project.write("a.sh", f"export TOKEN={github_token()}  # leakscan:allow\n")
    assert project.scan("a.sh", "--no-foreign-allow").exit_code == 0


def test_scanner_hook_drops_allowed_matches_in_blobs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Blobs without a file on disk (image layers, git): the scanner applies the policy's
    allow comments while their bytes are in memory."""
    rules = write_rules(tmp_path / "rules")
    allowed, kept = github_token(), github_token()
    data = f"# gitleaks:allow\nA={allowed}\nB={kept}\n".encode()
    config = ScanConfig(rule_paths=(rules,), policy=Policy(inline_allows=True))
    scanner = Scanner(config)
    prov = Provenance("image-layer", {"image": "app:1", "path": "app/.env", "layer_index": 0})
    scanner.scan_blob(Blob(prov, data=data))
    found = scanner.result(0.0).findings
    assert [f.redacted[-4:] for f in found] == [kept[-4:]]

    strict_policy = Policy(inline_allows=True, foreign_allow=False)
    strict = Scanner(ScanConfig(rule_paths=(rules,), policy=strict_policy))
    strict.scan_blob(Blob(prov, data=data))
    assert len(strict.result(0.0).findings) == 2


def test_line_allows() -> None:
    assert line_allows("x = 1  # leakscan:allow", "any.rule")
    assert line_allows("x  // leakscan:allow a.b,c.*", "c.d")
    assert not line_allows("x  // leakscan:allow a.b", "c.d")
    assert not line_allows("x  # NOSECRET", "c.d", foreign=False)
    assert line_allows("x  # NOSECRET", "c.d", foreign=True)
