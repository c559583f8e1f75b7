"""The differential benchmark's own logic: generator, checksums, normalisers, matching.

No scanner binary and no network: tool outputs are small documents in each tool's JSON shape.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import pytest
import regex

from bench.diff_generate import (
    GenerationError,
    confluent_token,
    crc_token,
    crc_token_valid,
    generate,
    with_checksum,
)
from bench.diff_match import (
    Planted,
    disagreements,
    missed_by_leakscan,
    redact,
    same,
    score_synthetic,
)
from bench.diff_synthetic import FILE_NAMES, build, plant_one
from bench.diff_tools import (
    Finding,
    parse_betterleaks,
    parse_kingfisher,
    parse_leakscan,
    parse_trivy,
    unmask,
)
from leakscan.engine import checksums
from leakscan.rules.loader import load_rules

RULES = load_rules()
BY_ID = {r.id: r for r in RULES}


def _b62(n: int) -> str:
    """Base62 written a second way (recursion over the alphabet), for the cross-check."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return _b62(n // 62) + alphabet[n % 62] if n >= 62 else alphabet[n]


def _github_valid(token: str) -> bool:
    """GitHub's description: the last 6 characters are base62(CRC32 of the 30 random ones)."""
    _, _, rest = token.partition("_")
    body, check = rest[:-6], rest[-6:]
    return _b62(zlib.crc32(body.encode())).rjust(6, "0") == check


# --- the generator ------------------------------------------------------------------------------


def test_every_rule_yields_a_secret_its_own_pattern_finds() -> None:
    rng = random.Random(5)
    undrawable = []
    for rule in RULES:
        try:
            gen = generate(rule, rng)
        except GenerationError:
            undrawable.append(rule.id)  # the synthetic pass lists these as "not plantable"
            continue
        flags = regex.IGNORECASE if rule.ignore_case else 0
        found = {
            m.group(rule.secret_group)
            for m in regex.finditer(rule.pattern, gen.match, flags, overlapped=True)
        }
        assert gen.secret in found, rule.id
        examples = {e.secret for e in rule.examples}
        assert gen.secret not in examples, rule.id
    assert len(undrawable) <= len(RULES) // 100, undrawable


@pytest.mark.parametrize("rule", [r for r in RULES if r.checksum], ids=lambda r: r.id)
def test_checksummed_tokens_validate_independently(rule: object) -> None:
    rng = random.Random(9)
    for _ in range(5):
        secret = generate(rule, rng).secret  # type: ignore[arg-type]
        if secret.startswith("github_pat_"):
            continue
        if rule.checksum == "confluent":  # type: ignore[attr-defined]
            assert secret == confluent_token(secret[4:58])
        else:
            assert _github_valid(secret)
            assert crc_token_valid(secret)
        assert checksums.verify(rule.checksum, secret)  # type: ignore[attr-defined]


def test_a_wrong_checksum_is_refused_and_repaired() -> None:
    token = crc_token("ghp_", "k" * 10 + "Q7v" * 6 + "z" * 2)
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert crc_token_valid(token) and not crc_token_valid(broken)
    assert with_checksum("github", broken) == token
    assert with_checksum(None, broken) == broken


def test_planted_files_carry_the_secret_where_the_rule_finds_it(tmp_path: Path) -> None:
    picked = [BY_ID[i] for i in ("leakscan.github.pat-classic", "leakscan.postgres.connection-url")]
    picked += [r for r in RULES if r.multiline_secret][:1]
    tree = build(picked, tmp_path, seed=3, noise_mb=0.2)
    assert {p.rule_id for p in tree.planted} == {r.id for r in picked}
    for p in tree.planted:
        text = (tmp_path / p.file).read_text()
        first = p.secret.split("\n", 1)[0]
        assert first in text.splitlines()[p.line - 1]
        assert (tmp_path / p.file).name == FILE_NAMES[p.fmt]
    assert any((tmp_path / "noise").iterdir())
    rule = BY_ID["leakscan.postgres.connection-url"]
    done = plant_one(rule, generate(rule, random.Random(1)), "env")
    assert done is not None and "postgres" in done[0]


# --- normalising each tool's JSON ---------------------------------------------------------------

VALUE = "Zq8vLp2wXc41Rt"  # leakscan:allow


def test_each_tools_json_becomes_file_line_secret(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.env").write_text(f"X=1\nDB_PASSWORD={VALUE}\n")
    leak = {
        "findings": [
            {
                "rule_id": "leakscan.database.password",
                "confidence": "medium",
                "secret": VALUE,
                "locations": [{"path": str(tmp_path / "app/a.env"), "line": 2}],
            }
        ]
    }
    king = {
        "findings": [
            {
                "rule": {"id": "kf.pw"},
                "finding": {"snippet": VALUE, "line": 2, "path": str(tmp_path / "app/a.env")},
            }
        ]
    }
    better = {
        "findings": [
            {
                "rule_id": "generic-password",
                "match": {"value": VALUE},
                "location": {"path": str(tmp_path / "app/a.env"), "start_line": 2, "end_line": 2},
            }
        ]
    }
    masked = "DB_PASSWORD=" + "*" * len(VALUE)
    trivy = {
        "Results": [
            {
                "Target": "app/a.env",
                "Secrets": [{"RuleID": "pw", "StartLine": 2, "EndLine": 2, "Match": masked}],
            }
        ]
    }
    found = (
        parse_leakscan(leak, tmp_path)
        + parse_kingfisher(king, tmp_path)
        + parse_betterleaks(better, tmp_path)
        + parse_trivy(trivy, tmp_path)
    )
    assert [(f.tool, f.file, f.line, f.secret) for f in found] == [
        (t, "app/a.env", 2, VALUE) for t in ("leakscan", "kingfisher", "betterleaks", "trivy")
    ]


def test_unmask_reads_trivys_hidden_value_back() -> None:
    line = f'token: "{VALUE}" # prod'
    assert unmask(f'token: "{"*" * len(VALUE)}" # prod', line) == VALUE
    assert unmask("no mask here", line) is None


# --- matching -------------------------------------------------------------------------------------


def _f(tool: str, file: str, line: int, secret: str | None, rule: str = "r") -> Finding:
    return Finding(tool, file, line, line, secret, rule)


def test_findings_match_by_file_and_secret_or_line() -> None:
    url = f"postgres://app:{VALUE}@db.internal/x"  # leakscan:allow
    assert same(_f("a", "f", 1, VALUE), _f("b", "f", 9, VALUE))
    assert same(_f("a", "f", 1, VALUE), _f("b", "f", 1, url))  # one holds the other
    assert not same(_f("a", "f", 1, VALUE), _f("b", "g", 1, VALUE))  # another file
    assert not same(_f("a", "f", 1, "abc"), _f("b", "f", 1, "xabcx"))  # too short to count
    assert same(_f("a", "f", 3, VALUE), _f("trivy", "f", 3, None))  # no value: by line
    assert not same(_f("a", "f", 3, VALUE), _f("trivy", "f", 4, None))


def test_recall_noise_and_disagreements() -> None:
    planted = [Planted("leakscan.x.y", "env", "s/1/.env", 4, 4, VALUE)]
    ours = [_f("leakscan", "s/1/.env", 4, VALUE), _f("leakscan", "noise/b.txt", 7, "q" * 20)]
    score = score_synthetic("leakscan", ours, planted, "noise/")
    assert (score.found, score.planted, score.noise_findings) == (1, 1, 1)
    assert score_synthetic("peer", [], planted, "noise/").recall == 0.0

    peer = [_f("kf", "s/1/.env", 4, VALUE), _f("kf", "lib/c.py", 2, "w" * 16, "kf.generic")]
    d = disagreements(ours, "kf", peer)
    assert [f.file for f in d.peer_only] == ["lib/c.py"]
    assert [f.file for f in d.leakscan_only] == ["noise/b.txt"]
    merged = missed_by_leakscan(ours, {"kf": peer, "bl": [_f("bl", "lib/c.py", 2, "w" * 16, "g")]})
    assert len(merged) == 1 and merged[0].found_by == {"kf": "kf.generic", "bl": "g"}


def test_reports_never_show_a_whole_value() -> None:
    for value in (VALUE, "short", "x" * 40, "-----BEGIN KEY-----\nAAAA\n-----END KEY-----"):
        shown = redact(value)
        assert value not in shown and " ".join(value.split()) not in shown
    assert redact(None) == "(value not given)"


# --- peer rules as the yardstick ------------------------------------------------------------------


def test_a_peer_rule_listing_becomes_a_drawable_rule() -> None:
    from bench.diff_generate import parsable
    from bench.diff_peer_rules import as_rule

    rule = as_rule({"id": "peer.gh", "pattern": r"(?:ghu|ghs)_[0-9a-zA-Z]{36}"})
    assert rule is not None and rule.secret_group == 0 and rule.checksum == "github"
    secret = generate(rule, random.Random(2)).secret
    assert _github_valid(secret)
    grouped = as_rule({"id": "peer.x", "pattern": r"(?i)acme(?:\s|=)+([a-f0-9]{32})\z"})
    assert grouped is not None and grouped.secret_group == 1 and grouped.checksum is None
    assert len(generate(grouped, random.Random(2)).secret) == 32
    assert as_rule({"id": "bad", "pattern": "(unclosed"}) is None
    assert parsable(r"(?i)a(?i)b\z") == r"(?i)ab\Z"


def test_gap_families_are_providers() -> None:
    from bench.diff_peer_pass import provider

    assert provider("betterleaks.new-relic-user-api-id.1") == "new-relic"
    assert provider("betterleaks.dropbox-long-lived-api-token") == "dropbox"
    assert provider("veles.secrets/openrouter") == "openrouter"


# --- written judgements ----------------------------------------------------------------------------

JUDGED = """\
- peer_rule: betterleaks:generic-password
  path: "npm/*/README.md"
  verdict: placeholder
  reason: "A README's sample configuration: the value is the word 'password' itself."
- family: acme
  verdict: not-a-secret
  reason: "Acme's client id is public: it is sent in every browser redirect."
  references: [https://acme.invalid/docs/oauth]
- peer_rule: leakscan.demo.token
  value_hint: EXAMPLE
  verdict: placeholder
  reason: "The vendor's published example value."
"""


def _judge(tmp_path: Path, text: str = JUDGED) -> object:
    from bench.diff_judge import Judge, load

    folder = tmp_path / "judgements"
    folder.mkdir(exist_ok=True)
    (folder / "helper.yaml").write_text(text)
    return Judge(load(folder))


def _run(name: str, findings: list[Finding]) -> object:
    from bench.diff_tools import ToolRun

    return ToolRun(name, True, 1.0, 0, findings)


def test_a_judged_value_shows_its_verdict_and_the_unjudged_are_listed_last(
    tmp_path: Path,
) -> None:
    from bench.diff_corpus import Source
    from bench.differential import real_report

    judge = _judge(tmp_path)
    readme = "npm/demo@1.0.0/README.md"
    pem = "pypi/demo-1.0/demo/keys.py"
    runs = {
        "leakscan": _run(
            "leakscan",
            [
                Finding("leakscan", "docs/a.md", 3, 3, "tok_EXAMPLE_0000", "leakscan.demo.token"),
                Finding("leakscan", "docs/b.md", 5, 5, "tok_9fQ2xLm7Rt4", "leakscan.demo.token"),
            ],
        ),
        "kingfisher": _run("kingfisher", []),
        "betterleaks": _run(
            "betterleaks",
            [
                _f("betterleaks", readme, 7, "password1", "generic-password"),
                _f("betterleaks", readme, 9, "fallback-pw", "generic-password"),
                _f("betterleaks", pem, 2, "-----BEGIN RSA PRIVATE KEY-----", "private-key"),
            ],
        ),
        "trivy": _run("trivy", []),
    }
    _, data, detail = real_report(tmp_path, [Source("npm", 2, 100)], runs, 10, judge)  # type: ignore[arg-type]
    text = "\n".join(detail + judge.report())  # type: ignore[attr-defined]

    readme_line = next(i for i, line in enumerate(detail) if f"{readme}:7" in line)
    assert detail[readme_line + 1].strip().startswith("=> placeholder: A README's sample")
    again = next(i for i, line in enumerate(detail) if f"{readme}:9" in line)
    assert detail[again + 1].strip() == "=> placeholder (as above) [helper.yaml#1]"
    pem_line = next(i for i, line in enumerate(detail) if f"{pem}:2" in line)
    assert "=>" not in detail[pem_line + 1]

    missed = {m["file"]: m["judgement"] for m in data["missed_by_leakscan"]}
    assert missed[readme]["verdict"] == "placeholder"
    assert missed[readme]["source"] == "helper.yaml#1"
    assert missed[pem] is None
    alone = {m["file"]: m["judgement"] for m in data["leakscan_only_vs_all_peers"]}
    assert alone["docs/a.md"]["verdict"] == "placeholder" and alone["docs/b.md"] is None

    tail = text.rsplit("unjudged:", 1)[1].splitlines()
    assert tail[0] == " 2 families/values"
    assert any(pem in line and "betterleaks:private-key" in line for line in tail[1:])
    assert any("docs/b.md" in line for line in tail[1:])
    assert not any(readme in line or "docs/a.md" in line for line in tail[1:])
    assert "password1" not in text  # values stay redacted


def test_a_judged_peer_family_carries_its_reason(tmp_path: Path) -> None:
    from bench.diff_peer_pass import report

    judge = _judge(tmp_path)
    planted = [
        Planted("betterleaks.acme-client-id", "env", "a/1/.env", 1, 1, "acme_Zq8vLp2wXc41Rt"),
        Planted("betterleaks.zeta-api-token", "env", "a/2/.env", 1, 1, "zeta_Q7vQ7vQ7vK2mW"),
    ]
    found = [p.as_finding() for p in planted]
    runs = {"leakscan": _run("leakscan", []), "kingfisher": _run("kingfisher", found)}
    _, data, detail = report(planted, [], runs, 2, judge)  # type: ignore[arg-type]
    acme = next(i for i, line in enumerate(detail) if line.strip().startswith("acme [1]"))
    assert detail[acme + 1].strip().startswith("=> not-a-secret: Acme's client id is public")
    gaps = {g["family"]: g["judgement"] for g in data["gaps"]}
    assert gaps["acme"]["references"] == ["https://acme.invalid/docs/oauth"]
    assert gaps["zeta"] is None
    assert [item for _, item in judge.unjudged] == [  # type: ignore[attr-defined]
        "zeta (betterleaks.zeta-api-token)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("peer_rule: x\nverdict: placeholder\n", "must be a YAML list"),
        ("- peer_rule: x\n  verdict: maybe\n  reason: r\n", "verdict 'maybe' is not one of"),
        ("- verdict: placeholder\n  reason: r\n", "needs at least one of"),
        ("- family: x\n  verdict: placeholder\n", "`reason` must be a non-empty string"),
        ("- family: x\n  verdict: covered\n  reason: r\n  note: y\n", "unknown key(s) note"),
        ("- family: x\n  verdict: covered\n  reason: r\n  references: 3\n", "`references`"),
        ("- family: [x\n", "not valid YAML"),
    ],
)
def test_a_bad_judgement_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    from bench.diff_judge import JudgementError

    with pytest.raises(JudgementError) as err:
        _judge(tmp_path, JUDGED + "\n" + text if text.startswith("- ") else text)
    assert message in str(err.value) and "helper.yaml" in str(err.value)
    if text.startswith("- ") and "YAML" not in message:
        assert "helper.yaml#4" in str(err.value)  # the entry is named


def test_the_command_stops_on_a_bad_file_and_fails_on_unjudged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import differential

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("- family: x\n  verdict: wrong\n  reason: r\n")
    scanned: list[str] = []

    def fake_real(opts: object, judge: object) -> tuple[list[str], dict[str, object], list[str]]:
        scanned.append("real")
        judge.record("real text, missed by leakscan", "lib/x.py:3 ab…c (9 chars)", None)  # type: ignore[attr-defined]
        return ["real text: 1 file"], {}, []

    monkeypatch.setattr(differential, "real_pass", fake_real)
    args = ["--work", str(tmp_path / "w"), "--no-synthetic", "--no-peer-formats"]
    with pytest.raises(SystemExit) as stop:
        differential.run([*args, "--judgements", str(bad)])
    assert stop.value.code == 2 and not scanned
    assert "bad judgement file: x.yaml#1: verdict 'wrong'" in capsys.readouterr().err

    good = tmp_path / "good"
    good.mkdir()
    assert differential.run([*args, "--judgements", str(good)])["unjudged"] == 1
    with pytest.raises(SystemExit) as stop:
        differential.run([*args, "--judgements", str(good), "--fail-on-unjudged"])
    assert stop.value.code == 1
    report = (tmp_path / "w" / "out" / "report.txt").read_text().splitlines()
    assert report[-2:] == [
        "unjudged: 1 families/values",
        "  real text, missed by leakscan: lib/x.py:3 ab…c (9 chars)",
    ]


def test_bench_passes_options_to_the_differential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.__main__ import main

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("- family: x\n")
    with pytest.raises(SystemExit) as stop:
        main(["differential", "--judgements", str(bad)])
    assert stop.value.code == 2
    assert "x.yaml#1: `verdict` must be" in capsys.readouterr().err
    assert main(["engine", "--list-limit", "3"]) == 2
