"""leakscan.toml / [tool.leakscan] change what a scan does; flags override the file."""

from __future__ import annotations

import json

from tests.helpers import aws_key_id, github_token
from tests.policy.conftest import Project

DB_INI = 'password = "k9Lq2xzA77Qw"\n'  # leakscan:allow (test literal)


def _plant(project: Project) -> None:
    project.write("app/a.py", f'TOKEN = "{github_token()}"\n')  # high, confidence high
    project.write("app/b.env", f"AWS_ACCESS_KEY_ID={aws_key_id()}\n")  # critical
    project.write("app/db.ini", DB_INI)  # medium, confidence medium
    project.write("app/vendor/c.env", f"AWS_ACCESS_KEY_ID={aws_key_id()}\n")


def _rules(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(f["rule_id"] for f in doc["findings"])


def test_disable_exclude_and_min_confidence(project: Project) -> None:
    _plant(project)
    _, before = project.scan_json("app")
    assert len(before["findings"]) == 4

    project.config('disable = ["test.github.*"]\nexclude = ["vendor"]\n')
    _, after = project.scan_json("app")
    assert _rules(after) == ["leakscan.generic.test-password", "test.aws.key-id"]
    assert all("vendor" not in loc["path"] for f in after["findings"] for loc in f["locations"])

    project.config('min_confidence = "high"\n')
    _, high = project.scan_json("app")
    assert "leakscan.generic.test-password" not in _rules(high)
    _, flag = project.scan_json("app", "--min-confidence", "low")  # the flag wins
    assert "leakscan.generic.test-password" in _rules(flag)


def test_enable_rules_and_extra_rule_folder_from_pyproject(project: Project) -> None:
    _plant(project)
    (project.root / "rules").rename(project.root / "team-rules")
    (project.root / "leakscan.toml").unlink()
    project.write(
        "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.leakscan]\n'
        'rules = ["team-rules"]\nenable = ["test.aws.*"]\n',
    )
    result = project.run("scan", "app", "--format", "json", "--no-progress")
    assert result.exit_code == 1, result.output
    assert set(_rules(json.loads(result.stdout))) == {"test.aws.key-id"}


def test_fail_on_and_format_from_file_and_flags_override(project: Project) -> None:
    project.write("app/db.ini", DB_INI)  # medium only
    project.config('fail_on = "high"\nformat = "json"\n')
    result = project.scan("app")
    assert result.exit_code == 0  # a medium finding does not fail the build
    assert json.loads(result.stdout)["findings"]  # but it is reported, as JSON
    assert project.scan("app", "--fail-on", "medium").exit_code == 1
    table = project.scan("app", "--format", "table")
    assert "1 secret(s)" in table.stderr and "HIGH" not in table.stdout  # medium: "MED"


def test_explicit_config_and_bad_config_exit_2(project: Project) -> None:
    project.write("app/a.py", f'TOKEN = "{github_token()}"\n')
    project.write("ci/leakscan.toml", 'enable = ["test.*"]\ndisable = ["test.*"]\n')
    assert project.scan("app", "--config", "ci/leakscan.toml").exit_code == 0
    project.config('fail_on = "sometimes"\n')
    bad = project.scan("app")
    assert bad.exit_code == 2 and "fail_on must be one of" in bad.output
    project.config("colour = 'blue'\n")
    unknown = project.scan("app")
    assert unknown.exit_code == 2 and "unknown key(s): colour" in unknown.output
    project.config("this is = = not toml\n")
    assert project.scan("app").exit_code == 2


def test_config_show_prints_merged_settings(project: Project) -> None:
    project.config('disable = ["a.*"]\nfail_on = "high"\n')
    shown = project.run("config", "show")
    assert shown.exit_code == 0
    assert 'disable = ["a.*"]' in shown.stdout and 'fail_on = "high"' in shown.stdout
    assert 'min_confidence = "low"' in shown.stdout  # a default
    as_json = json.loads(project.run("config", "show", "--format", "json").stdout)
    assert as_json["settings"]["fail_on"] == "high"
    assert as_json["config_file"].endswith("leakscan.toml")
