"""The manifest corpus with the shipped rules only: what a user gets out of the box."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from leakscan.cli import app
from leakscan.rules.loader import load_rules
from tests.sources.manifests.conftest import PLACEHOLDERS, Corpus

runner = CliRunner()


def test_builtin_rules_find_the_corpus(corpus: Corpus) -> None:
    rules = load_rules(include_builtin=True)
    assert any(r.context for r in rules)  # the key-name rules of patterns/generic.yaml
    result = runner.invoke(app, ["scan", str(corpus.root), "-f", "json", "--show-secrets"])
    assert result.exit_code == 1, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    where = {
        f.get("secret"): {(loc["path"], loc.get("line")) for loc in f["locations"]}
        for f in doc["findings"]
    }
    missing = [
        (p.file, p.line, p.key)
        for p in corpus.planted
        if (str(corpus.root / p.file), p.line) not in where.get(p.secret, set())
    ]
    assert not missing, f"builtin rules miss {len(missing)} planted secret(s): {missing}"
    for placeholder in PLACEHOLDERS:
        assert not any(placeholder in (s or "") for s in where), placeholder
