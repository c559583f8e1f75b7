"""A baseline made on one run suppresses those findings on the next; new ones still fail."""

from __future__ import annotations

import json

from tests.helpers import aws_key_id, github_token
from tests.policy.conftest import Project


def test_baseline_suppresses_accepted_and_new_finding_fails(project: Project) -> None:
    old_token, old_key = github_token(), aws_key_id()
    project.write("app/settings.py", f'TOKEN = "{old_token}"\n')
    project.write("deploy/env.sh", f"export AWS_ACCESS_KEY_ID={old_key}\n")

    made = project.run("baseline", "create", "app", "deploy", "--rules", "rules")
    assert made.exit_code == 0, made.output
    text = (project.root / ".leakscan-baseline.json").read_text()
    assert old_token not in text and old_key not in text  # never the secrets
    doc = json.loads(text)
    assert doc["version"] == 1 and len(doc["entries"]) == 2
    entry = doc["entries"][0]
    assert {"fingerprint", "rule_id", "redacted", "locations"} <= set(entry)

    clean = project.scan("app", "deploy", "--baseline", ".leakscan-baseline.json")
    assert clean.exit_code == 0, clean.output
    assert "0 secret(s)" in clean.output

    new_token = github_token()
    project.write("app/new.py", f'NEW = "{new_token}"\n')
    code, report = project.scan_json("app", "deploy", "--baseline", ".leakscan-baseline.json")
    assert code == 1
    assert [f["redacted"][-4:] for f in report["findings"]] == [new_token[-4:]]
    assert report["baseline"]["suppressed"] == 2
    assert report["baseline"]["stale"] == []


def test_stale_entries_are_reported(project: Project) -> None:
    project.write("app/a.py", f'TOKEN = "{github_token()}"\n')
    assert project.run("baseline", "create", "app", "--rules", "rules").exit_code == 0
    project.write("app/a.py", "TOKEN = os.environ['TOKEN']\n")  # the secret was removed

    code, report = project.scan_json("app", "--baseline", ".leakscan-baseline.json")
    assert code == 0
    assert len(report["baseline"]["stale"]) == 1
    assert report["baseline"]["stale"][0]["rule_id"] == "test.github.pat"
    assert any("stale entry" in s["reason"] for s in report["skipped"])

    verbose = project.scan("app", "--baseline", ".leakscan-baseline.json", "--verbose")
    assert "stale entry (no longer found)" in verbose.output


def test_update_adds_new_and_drops_stale(project: Project) -> None:
    project.write("app/a.py", f'TOKEN = "{github_token()}"\n')
    assert project.run("baseline", "create", "app", "--rules", "rules").exit_code == 0
    project.write("app/a.py", f'KEY = "{aws_key_id()}"\n')
    updated = project.run("baseline", "update", "app", "--rules", "rules")
    assert updated.exit_code == 0, updated.output
    doc = json.loads((project.root / ".leakscan-baseline.json").read_text())
    assert [e["rule_id"] for e in doc["entries"]] == ["test.aws.key-id"]
    assert project.scan("app", "--baseline", ".leakscan-baseline.json").exit_code == 0


def test_gitleaksignore_import_matches_by_file_and_line(project: Project) -> None:
    project.write("src/config.py", f'# settings\nKEY = "{aws_key_id()}"\n')
    project.write("src/other.py", f'TOKEN = "{github_token()}"\n')
    project.write(
        ".gitleaksignore",
        "# accepted\n"
        "src/config.py:aws-access-token:2\n"
        "0123abcd4567:src/gone.py:generic-api-key:9\n",
    )
    imported = project.run(
        "baseline", "import-gitleaksignore", ".gitleaksignore", "-o", "base.json"
    )
    assert imported.exit_code == 0, imported.output
    code, report = project.scan_json("src", "--baseline", "base.json")
    assert code == 1  # other.py's token is not in the ignore file
    assert [f["rule_id"] for f in report["findings"]] == ["test.github.pat"]
    assert report["baseline"]["suppressed"] == 1
    assert len(report["baseline"]["stale"]) == 1  # src/gone.py


def test_bad_baseline_and_bad_ignore_file_exit_2(project: Project) -> None:
    project.write("app/a.py", "nothing\n")
    project.write("broken.json", "{not json")
    result = project.scan("app", "--baseline", "broken.json")
    assert result.exit_code == 2
    assert "not a leakscan baseline" in result.output
    missing = project.scan("app", "--baseline", "missing.json")
    assert missing.exit_code == 2
    project.write(".gitleaksignore", "this is not a fingerprint\n")
    bad = project.run("baseline", "import-gitleaksignore", ".gitleaksignore")
    assert bad.exit_code == 2 and ".gitleaksignore:1" in bad.output
