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
