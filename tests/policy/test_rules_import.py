"""gitleaks TOML and truffleHog3 YAML rule files, imported, find what their examples say."""

from __future__ import annotations

import json
import string

from tests.helpers import random_chars
from tests.policy.conftest import Project

GITLEAKS = r"""
title = "team gitleaks config"

[[rules]]
id = "acme-api-key"
description = "Acme API key"
regex = '''(?i)acme[_-]?key\s*[:=]\s*["']?(acme_[a-z0-9]{24})\b'''
keywords = ["acme"]
entropy = 2.5
tags = ["acme"]
[rules.allowlist]
stopwords = ["acme_examplekeyexamplekey1234"]

[[rules]]
id = "widget-token"
description = "Widget token"
regex = '''wdg-[0-9a-f]{32}\z'''

[[rules]]
id = "path-only"
description = "Files named secrets.txt"
path = '''secrets\.txt$'''
"""

TRUFFLEHOG3 = r"""
- id: high-entropy
  message: High Entropy
  minlen: 20
  alphabet: "0123456789abcdef"
  threshold: 3.0
  severity: MEDIUM
- id: zeta.token
  message: Zeta Token
  pattern: "zeta_[0-9A-Z]{20}"
  severity: HIGH
"""


def test_gitleaks_import_finds_its_examples(project: Project) -> None:
    project.write("gitleaks.toml", GITLEAKS)
    sample_key = "acme_" + random_chars(24, string.ascii_lowercase + string.digits)
    widget = "wdg-" + random_chars(32, "0123456789abcdef")
    result = project.run(
        "rules",
        "import",
        "gitleaks",
        "gitleaks.toml",
        "-o",
        "team/acme.yaml",
        "--example",
        f'acme-api-key=ACME_KEY = "{sample_key}"',
        "--example",
        f"widget-token=token: {widget}",
    )
    assert result.exit_code == 0, result.output
    assert "left out path-only" in result.output  # no regex: named, not silently dropped

    assert project.run("rules", "test", "team").exit_code == 0  # examples pass the detector
    listed = json.loads(project.run("rules", "list", "--rules", "team", "-f", "json").stdout)
    ids = {r["id"] for r in listed}
    assert {"imported.gitleaks.acme-api-key", "imported.gitleaks.widget-token"} <= ids

    live = "acme_" + random_chars(24, string.ascii_lowercase + string.digits)
    project.write("src/app.py", f'acme_key = "{live}"\n')
    project.write("src/stop.py", 'acme_key = "acme_examplekeyexamplekey1234"\n')  # stopword
    found = project.run(
        "scan",
        "src",
        "--rules",
        "team",
        "--format",
        "json",
        "--no-progress",
        "--config",
        "none.toml",
    )
    # --config points at a missing file: that is an error, not a silent default
    assert found.exit_code == 2
    project.write("leakscan.toml", 'rules = ["team"]\nenable = ["imported.*"]\n')
    found = project.run("scan", "src", "--format", "json", "--no-progress")
    assert found.exit_code == 1, found.output
    doc = json.loads(found.stdout)
    assert [(f["rule_id"], f["redacted"][-4:]) for f in doc["findings"]] == [
        ("imported.gitleaks.acme-api-key", live[-4:])
    ]


def test_trufflehog3_import_finds_its_examples(project: Project) -> None:
    project.write("th3.yml", TRUFFLEHOG3)
    token = "zeta_" + random_chars(20, string.ascii_uppercase + string.digits)
    result = project.run(
        "rules",
        "import",
        "trufflehog3",
        "th3.yml",
        "-o",
        "team/th3.yaml",
        "--example",
        f"zeta.token=ZETA={token}",
    )
    assert result.exit_code == 0, result.output
    assert "left out high-entropy" in result.output
    assert project.run("rules", "test", "team").exit_code == 0

    project.write("leakscan.toml", 'rules = ["team"]\nenable = ["imported.*"]\n')
    live = "zeta_" + random_chars(20, string.ascii_uppercase + string.digits)
    project.write("deploy/run.sh", f"export ZETA={live}\n")
    found = project.run("scan", "deploy", "--format", "json", "--no-progress")
    assert found.exit_code == 1, found.output
    finding = json.loads(found.stdout)["findings"][0]
    assert finding["rule_id"] == "imported.trufflehog3.zeta.token"
    assert finding["severity"] == "high"


def test_import_without_examples_names_the_rules_and_exits_2(project: Project) -> None:
    project.write("th3.yml", TRUFFLEHOG3)
    result = project.run("rules", "import", "trufflehog3", "th3.yml", "-o", "out.yaml")
    assert result.exit_code == 2
    assert "zeta.token: no example given" in result.output
    assert not (project.root / "out.yaml").exists()
    project.write("bad.toml", "[[rules]\n")
    bad = project.run("rules", "import", "gitleaks", "bad.toml", "-o", "out.yaml")
    assert bad.exit_code == 2 and "invalid TOML" in bad.output
