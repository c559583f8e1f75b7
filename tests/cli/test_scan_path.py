"""``leakscan scan PATH`` as a user runs it: exit codes, formats, redaction, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import github_token, write_rules

runner = CliRunner()


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "rules")


def scan(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["scan", *args], input=input)


def test_findings_exit_1_grouped_by_secret_and_redacted(tmp_path: Path, rules_dir: Path) -> None:
    token = github_token()
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.env").write_text(f"GITHUB_TOKEN={token}\n")
    (tree / "b.sh").write_text(f"#!/bin/sh\n\ncurl -H 'Authorization: token {token}'\n")
    result = scan(str(tree), "--rules", str(rules_dir), "--no-progress")
    assert result.exit_code == 1
    assert token not in result.output
    assert f"ghp_…{token[-4:]}" in result.output
    assert "a.env:1" in result.output and "b.sh:3" in result.output
    assert "1 secret(s) in 2 location(s)" in result.output


def test_clean_tree_exits_0(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "ok.txt").write_text("nothing here\n")
    result = scan(str(tmp_path / "ok.txt"), "--rules", str(rules_dir))
    assert result.exit_code == 0, result.output


def test_json_document_and_show_secrets(tmp_path: Path, rules_dir: Path) -> None:
    token = github_token()
    (tmp_path / "x.py").write_text(f"TOKEN = '{token}'\n")
    result = scan(str(tmp_path / "x.py"), "--rules", str(rules_dir), "-f", "json")
    doc = json.loads(result.stdout)
    assert doc["version"] == 1 and doc["tool"]["name"] == "leakscan"
    assert doc["tool"]["rules_digest"].startswith("sha256:")
    (finding,) = doc["findings"]
    assert finding["rule_id"] == "test.github.pat"
    assert "secret" not in finding and token not in result.output
    assert finding["locations"] == [
        {"kind": "file", "path": str(tmp_path / "x.py"), "line": 1, "column": 10}
    ]
    shown = scan(str(tmp_path / "x.py"), "--rules", str(rules_dir), "-f", "json", "--show-secrets")
    assert json.loads(shown.stdout)["findings"][0]["secret"] == token


def test_jsonl_one_object_a_line(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "x").write_text(f"{github_token()}\n{github_token()}\n")
    result = scan(str(tmp_path / "x"), "--rules", str(rules_dir), "-f", "jsonl")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["finding", "finding", "stats"]


def test_stdin(rules_dir: Path) -> None:
    token = github_token()
    result = scan("-", "--rules", str(rules_dir), "-f", "json", input=f"x\ny={token}\n")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["locations"][0]["line"] == 2


def test_output_file(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "x").write_text(github_token())
    out = tmp_path / "report.json"
    result = scan(str(tmp_path / "x"), "--rules", str(rules_dir), "-f", "json", "-o", str(out))
    assert result.exit_code == 1
    assert json.loads(out.read_text())["findings"]


def test_min_confidence_filters(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "x").write_text(
        # leakscan:allow (synthetic test value)
        'password = "Zp8Qw2Lk9XvB"\n'
    )
    assert scan(str(tmp_path / "x"), "--rules", str(rules_dir)).exit_code == 1
    high = scan(str(tmp_path / "x"), "--rules", str(rules_dir), "--min-confidence", "high")
    assert high.exit_code == 0


def test_missing_path_is_one_line_exit_2_and_other_findings_kept(
    tmp_path: Path, rules_dir: Path
) -> None:
    (tmp_path / "x").write_text(github_token())
    result = scan(
        str(tmp_path / "x"), str(tmp_path / "missing"), "--rules", str(rules_dir), "-f", "json"
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    assert len(doc["findings"]) == 1
    assert doc["errors"] == [f"{tmp_path / 'missing'}: no such file or directory"]


def test_unreadable_file_is_a_reported_skip(tmp_path: Path, rules_dir: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    f = tmp_path / "locked"
    f.write_text("x")
    f.chmod(0)
    result = scan(str(tmp_path), "--rules", str(rules_dir), "-f", "json")
    assert json.loads(result.stdout)["skipped"]


def test_invalid_rule_file_names_file_and_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - id: my.rule\n    name: x\n    pattern: '(unclosed'\n"
        "    keywords: [x]\n    examples: []\n    negative_examples: []\n"
    )
    (tmp_path / "t").write_text("x")
    result = scan(str(tmp_path / "t"), "--rules", str(bad))
    assert result.exit_code == 2
    assert f"{bad}: rule my.rule: pattern does not compile" in result.output
    assert "Traceback" not in result.output


def test_rule_without_examples_does_not_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - id: my.rule\n    name: x\n    pattern: 'abc'\n    keywords: [abc]\n"
    )
    result = scan(str(tmp_path / "bad.yaml"), "--rules", str(bad))
    assert result.exit_code == 2
    assert "needs both examples and negative_examples" in result.output


def test_unknown_format_is_exit_2(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "t").write_text("x")
    result = scan(str(tmp_path / "t"), "--rules", str(rules_dir), "-f", "yamlish")
    assert result.exit_code == 2
    assert "unknown format 'yamlish'" in result.output


def test_no_progress_bar_when_not_a_terminal(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "t").write_text("x")
    result = scan(str(tmp_path / "t"), "--rules", str(rules_dir))
    assert "\r" not in result.output


def test_rules_test_command_checks_examples(tmp_path: Path, rules_dir: Path) -> None:
    result = runner.invoke(app, ["rules", "test", str(rules_dir)])
    assert result.exit_code == 0, result.output
    assert "5 rules tested, 0 failure(s)" in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "r.yaml").write_text(
        "rules:\n  - id: t.x\n    name: x\n    pattern: '(zz_[a-z0-9]{12})'\n"
        "    keywords: [zz_]\n    examples: [{text: 'zz_a1b2c3d4e5f6', secret: 'zz_WRONG'}]\n"
        "    negative_examples: ['zz_q1w2e3r4t5y6']\n"
    )
    result = runner.invoke(app, ["rules", "test", str(broken)])
    assert result.exit_code == 1
    assert "example 1: expected secret not found" in result.output
    assert "negative example 1: matched, but must not" in result.output


def test_rules_list_and_show(rules_dir: Path) -> None:
    listed = runner.invoke(app, ["rules", "list", "--rules", str(rules_dir)])
    assert "test.github.pat" in listed.output
    shown = runner.invoke(app, ["rules", "show", "test.github.pat", "--rules", str(rules_dir)])
    assert "checksum:    github" in shown.output
    missing = runner.invoke(app, ["rules", "show", "no.such.rule"])
    assert missing.exit_code == 2


def test_unexpected_error_in_a_source_keeps_other_findings(
    tmp_path: Path, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one source is one error line and exit 2; what other sources found is kept."""
    from leakscan.sources import filesystem

    real = filesystem.FilesystemSource.blobs

    def broken(self, ctx):  # type: ignore[no-untyped-def]
        if self.target.endswith("bad"):
            raise KeyError("boom")
        yield from real(self, ctx)

    monkeypatch.setattr(filesystem.FilesystemSource, "blobs", broken)
    monkeypatch.setattr(
        "leakscan.cli.scan_path._file_source",
        lambda target, options: filesystem.FilesystemSource(target, options),
    )
    (tmp_path / "good").write_text(github_token())
    (tmp_path / "bad").write_text("x")
    result = scan(
        str(tmp_path / "good"), str(tmp_path / "bad"), "--rules", str(rules_dir), "-f", "json"
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    doc = json.loads(result.stdout)
    assert len(doc["findings"]) == 1
    assert doc["errors"] == [f"{tmp_path / 'bad'}: unexpected KeyError: 'boom'"]
