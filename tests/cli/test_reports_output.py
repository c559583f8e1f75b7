"""Several reports from one scan, and the summary a person reads on stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leakscan.cli import app
from tests.helpers import github_token, write_rules

runner = CliRunner()


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "rules")


@pytest.fixture()
def leaky(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.env").write_text(f"GITHUB_TOKEN={github_token()}\n")
    return tree


def scan(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["scan", *args, "--no-progress"])


def test_one_scan_writes_several_reports(tmp_path: Path, leaky: Path, rules_dir: Path) -> None:
    sarif, junit = tmp_path / "out.sarif", tmp_path / "out.xml"
    result = scan(
        str(leaky), "--rules", str(rules_dir), "--report", f"sarif={sarif}",
        "--report", f"junit={junit}", "-f", "json",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert "<testsuites" in junit.read_text()
    assert json.loads(result.stdout)["findings"][0]["rule_id"] == "test.github.pat"
    assert "1 secret(s) in 1 location(s)" in result.stderr


def test_report_without_file_prints_and_flags_still_work(leaky: Path, rules_dir: Path) -> None:
    result = scan(str(leaky), "--rules", str(rules_dir), "--report", "jsonl")
    assert json.loads(result.stdout.splitlines()[0])["type"] == "finding"  # no table beside it
    legacy = scan(str(leaky), "--rules", str(rules_dir), "-f", "sarif")
    assert json.loads(legacy.stdout)["runs"][0]["results"]


def test_format_twice_is_a_clear_error_not_a_silent_pick(leaky: Path, rules_dir: Path) -> None:
    result = scan(str(leaky), "--rules", str(rules_dir), "-f", "sarif", "-f", "table")
    assert result.exit_code == 2
    assert "--report" in result.stderr and "-f sarif -f table" in result.stderr
    assert result.stdout == ""


def test_two_reports_on_stdout_and_unknown_format_fail_before_scanning(
    leaky: Path, rules_dir: Path
) -> None:
    both = scan(str(leaky), "--rules", str(rules_dir), "--report", "json", "-f", "table")
    assert both.exit_code == 2 and "standard output" in both.stderr
    bad = scan(str(leaky), "--rules", str(rules_dir), "--report", "pdf=x.pdf")
    assert bad.exit_code == 2 and "unknown format 'pdf'" in bad.stderr
    assert "secret(s)" not in bad.stderr


def test_summary_reaches_stderr_when_the_report_goes_to_a_file(
    tmp_path: Path, leaky: Path, rules_dir: Path
) -> None:
    out = tmp_path / "r.sarif"
    result = scan(str(leaky), "--rules", str(rules_dir), "-f", "sarif", "-o", str(out))
    assert result.stdout == ""
    assert "1 secret(s) in 1 location(s)" in result.stderr
    assert "next steps: rotate" in result.stderr
    assert "leakscan:allow" in result.stderr and "leakscan baseline update" in result.stderr


def test_clean_run_has_totals_but_no_next_steps(tmp_path: Path, rules_dir: Path) -> None:
    (tmp_path / "ok.txt").write_text("nothing\n")
    result = scan(str(tmp_path / "ok.txt"), "--rules", str(rules_dir))
    assert result.exit_code == 0
    assert "0 secret(s)" in result.stderr and "next steps" not in result.stderr


def test_summary_counts_what_was_left_out(tmp_path: Path, rules_dir: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    accepted = tree / "accepted.env"
    accepted.write_text(f"GITHUB_TOKEN={github_token()}\n")
    baseline = tmp_path / "baseline.json"
    made = runner.invoke(
        app, ["baseline", "create", str(tree), "--rules", str(rules_dir), "-o", str(baseline)]
    )
    assert made.exit_code == 0, made.output
    (tree / "allowed.env").write_text(
        f"TOKEN={github_token()}  # leakscan:allow\n"  # leakscan:allow (synthetic test value)
    )
    (tree / "weak.cfg").write_text("password = k9Lq2xzA77Qw\n")  # leakscan:allow (synthetic)
    result = scan(
        str(tree), "--rules", str(rules_dir), "--baseline", str(baseline),
        "--min-confidence", "high",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 accepted by the baseline" in result.stderr
    assert "1 allowed inline" in result.stderr
    assert "below --min-confidence high" in result.stderr
    doc = json.loads(
        scan(
            str(tree), "--rules", str(rules_dir), "--baseline", str(baseline),
            "--min-confidence", "high", "-f", "json",
        ).stdout
    )  # fmt: skip
    assert doc["baseline"]["suppressed"] == 1 and doc["allowed_inline"] == 1
    assert doc["stats"]["below_min_confidence"] == 1


@pytest.mark.parametrize(
    "args",
    [["app/nonexistent"], ["git", "{repo}", "--range", "nope..HEAD"]],
)
def test_fatal_error_printed_once_without_misleading_totals(
    tmp_path: Path, rules_dir: Path, args: list[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    args = [a.replace("{repo}", str(repo)) for a in args]
    result = runner.invoke(app, ["scan", *args, "--rules", str(rules_dir), "--no-progress"])
    assert result.exit_code == 2
    assert "secret(s)" not in result.output
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    assert result.stdout == ""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@x", *args],
        check=True,
        capture_output=True,
    )


def test_pre_commit_hook_names_the_staged_file_and_says_what_to_do(
    tmp_path: Path, rules_dir: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "ci.env").write_text(f"GITHUB_TOKEN={github_token()}\n")
    _git(repo, "add", "ci.env")
    result = scan("git", "--staged", str(repo), "--rules", str(rules_dir))
    assert result.exit_code == 1, result.output
    assert "ci.env:1 (staged)" in result.stdout
    assert not any(line.rstrip().endswith("@") for line in result.stdout.splitlines())
    assert "next steps: take the secret out of the staged file" in result.stderr
    assert "leakscan:allow" in result.stderr


def test_range_in_a_shallow_clone_hints_at_fetch_depth(tmp_path: Path, rules_dir: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "-q")
    for n in range(3):
        (origin / "f.txt").write_text(f"{n}\n")
        _git(origin, "add", "f.txt")
        _git(origin, "commit", "-qm", f"c{n}")
    base = subprocess.run(
        ["git", "-C", str(origin), "rev-parse", "HEAD~2"], capture_output=True, text=True
    ).stdout.strip()
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(clone)],
        check=True,
        capture_output=True,
    )
    result = scan("git", str(clone), "--range", f"{base}..HEAD", "--rules", str(rules_dir))
    assert result.exit_code == 2
    assert "bad revision" in result.stderr
    assert "fetch-depth: 0" in result.stderr and "secret(s)" not in result.stderr


def test_reports_and_baseline_of_a_key_block_trip_no_scanner(tmp_path: Path) -> None:
    import base64
    import secrets

    body = base64.b64encode(secrets.token_bytes(600)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    armor = "-----" + "BEGIN RSA PRIVATE KEY-----"
    tree = tmp_path / "keys"
    tree.mkdir()
    (tree / "id_rsa").write_text("\n".join([armor, *lines, "-----" + "END RSA PRIVATE KEY-----"]))
    out = tmp_path / "out"
    out.mkdir()
    result = scan(
        str(tree), "--report", f"sarif={out / 'r.sarif'}", "--report",
        f"gitlab={out / 'gl.json'}", "--report", f"json={out / 'r.json'}",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    made = runner.invoke(app, ["baseline", "create", str(tree), "-o", str(out / "base.json")])
    assert made.exit_code == 0, made.output
    for report in out.iterdir():
        text = report.read_text()
        assert "BEGIN" not in text and body[:20] not in text, report.name
        assert "PRIVATE KEY (RSA)" in text, report.name
    again = scan(str(out))  # leakscan over its own reports: nothing
    assert again.exit_code == 0, again.output
