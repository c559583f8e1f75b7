"""A deployment repository scanned as a user does: every planted credential is reported at
the line of its key, naming the key; references and stand-ins are not reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.sources.manifests.conftest import PLACEHOLDERS, Corpus

runner = CliRunner()


def scan_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["scan", *args, "-f", "json", "--show-secrets"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(scope="module")
def report(corpus: Corpus, rules_dir: Path) -> dict[str, Any]:
    code, doc = scan_json(str(corpus.root), "--rules", str(rules_dir))
    assert code == 1
    return doc


def _locations(doc: dict[str, Any], secret: str) -> list[dict[str, Any]]:
    return [loc for f in doc["findings"] if f.get("secret") == secret for loc in f["locations"]]


def test_every_planted_secret_found_at_its_key_line(corpus: Corpus, report: dict[str, Any]) -> None:
    missing = []
    for plant in corpus.planted:
        where = str(corpus.root / plant.file)
        locs = [loc for loc in _locations(report, plant.secret) if loc["path"] == where]
        if not any(loc.get("line") == plant.line and loc.get("key") == plant.key for loc in locs):
            missing.append(
                (
                    plant.file,
                    plant.line,
                    plant.key,
                    [(loc.get("line"), loc.get("key")) for loc in locs],
                )
            )
    assert not missing, missing
    assert len(corpus.planted) >= 29


def test_one_location_per_place(corpus: Corpus, report: dict[str, Any]) -> None:
    """A token found both in the file's text and as a key's value is one location."""
    for finding in report["findings"]:
        places = [(loc["path"], loc.get("line")) for loc in finding["locations"]]
        assert len(places) == len(set(places)), finding["locations"]


def test_placeholders_and_references_not_reported(report: dict[str, Any]) -> None:
    secrets = {f.get("secret") for f in report["findings"]}
    for placeholder in PLACEHOLDERS:
        assert not any(placeholder in (s or "") for s in secrets), placeholder
    keys = {loc.get("key") for f in report["findings"] for loc in f["locations"]}
    assert not any(k and ("REF_PASSWORD" in k or "FROM_SECRET" in k) for k in keys), keys
    assert not any(k and ("TEMPLATED" in k or "EMPTY" in k) for k in keys), keys


def test_templates_and_clean_files_quiet(corpus: Corpus, report: dict[str, Any]) -> None:
    paths = {loc["path"] for f in report["findings"] for loc in f["locations"]}
    assert str(corpus.root / "chart/templates/secret.yaml") not in paths
    assert str(corpus.root / "chart/Chart.yaml") not in paths
    assert not [s for s in report["skipped"] if "templates" in s["where"]], report["skipped"]


def test_location_names_the_manifest_kind(corpus: Corpus, report: dict[str, Any]) -> None:
    plant = next(p for p in corpus.planted if p.key == "data.password")
    (loc,) = [x for x in _locations(report, plant.secret) if x.get("key") == plant.key]
    assert loc["kind"] == "file" and loc["manifest"] == "k8s-secret" and loc["document"] == 1


def test_redacted_by_default(corpus: Corpus, rules_dir: Path) -> None:
    result = runner.invoke(app, ["scan", str(corpus.root), "--rules", str(rules_dir)])
    assert result.exit_code == 1
    for plant in corpus.planted:
        assert plant.secret not in result.output


@pytest.mark.parametrize(
    ("kind", "name", "text", "key"),
    [
        ("dotenv", "settings.txt", "DB_PASSWORD={secret}\n", "DB_PASSWORD"),
        (
            "k8s",
            "secret.txt",
            "apiVersion: v1\nkind: Secret\nstringData:\n  token: {secret}\n",
            "stringData.token",
        ),
        (
            "compose",
            "stack.txt",
            "services:\n  a:\n    environment:\n      - TOKEN={secret}\n",
            "services.a.environment[TOKEN]",
        ),
        ("dockerfile", "build.txt", "FROM x\nARG NPM_TOKEN={secret}\n", "ARG[NPM_TOKEN]"),
        ("helm", "prod.txt", "db:\n  password: {secret}\n", "db.password"),
    ],
)
def test_as_forces_the_kind(
    tmp_path: Path, rules_dir: Path, kind: str, name: str, text: str, key: str
) -> None:
    from tests.helpers import password

    secret = password()
    (tmp_path / name).write_text(text.format(secret=secret))
    code, doc = scan_json(str(tmp_path / name), "--rules", str(rules_dir))
    # unknown name: text only (a built-in assignment rule may see it), never by key
    assert not any("key" in loc for loc in _locations(doc, secret))
    code, doc = scan_json(str(tmp_path / name), "--rules", str(rules_dir), "--as", kind)
    assert code == 1
    (loc,) = _locations(doc, secret)
    assert loc["key"] == key and loc["line"] == text.count("\n")


def test_as_rejects_unknown_kind(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x\n")
    result = runner.invoke(app, ["scan", str(tmp_path / "a"), "--as", "helmet"])
    assert result.exit_code == 2
    assert "--as helmet" in result.output and "Traceback" not in result.output


def test_api_yields_structured_blobs(corpus: Corpus) -> None:
    from leakscan.model import Blob
    from leakscan.sources.interface import ScanContext, SourceOptions
    from leakscan.sources.manifests import manifest_aware_source

    source = manifest_aware_source(str(corpus.root / "app/.env"), SourceOptions())
    items = [b for b in source.blobs(ScanContext()) if isinstance(b, Blob)]
    assert items[0].context is None  # the file itself, for the text scan
    assert [b.context for b in items[1:]] == [
        "DB_PASSWORD",
        "REDIS_PASSWORD",
        "STRIPE_SECRET",
        "REF_PASSWORD",
        "LOG_LEVEL",
    ]
    assert all(b.provenance.line for b in items[1:])
