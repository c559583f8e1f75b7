"""The detector end to end over bytes: capture, checksums, filters, decoders, windows."""

from __future__ import annotations

import base64
import io
import urllib.parse
from pathlib import Path

import pytest

from leakscan.engine import detector as detector_module
from leakscan.engine.detector import Detector
from leakscan.engine.selftest import run_examples
from leakscan.rules.loader import load_rules
from tests.helpers import aws_key_id, github_token, write_rules


@pytest.fixture(scope="module")
def det(tmp_path_factory: pytest.TempPathFactory) -> Detector:
    rules_dir = write_rules(tmp_path_factory.mktemp("rules"))
    return Detector(load_rules([rules_dir], include_builtin=False), use_cache=False)


def found(det: Detector, text: str | bytes, context: str | None = None) -> set[tuple[str, str]]:
    data = text.encode() if isinstance(text, str) else text
    return {(m.rule_id, m.secret) for m in det.scan(data, context)}


def test_test_rules_pass_their_own_examples(det: Detector) -> None:
    assert run_examples(det) == []


def test_token_found_with_line_and_column(det: Detector) -> None:
    token = github_token()
    matches = det.scan(f"first\nsecond\n  export GH={token}\n".encode())
    assert [(m.rule_id, m.secret, m.line, m.column) for m in matches] == [
        ("test.github.pat", token, 3, 13)
    ]


def test_bad_checksum_is_not_a_finding(det: Detector) -> None:
    token = github_token()
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert found(det, f"t={broken}") == set()


@pytest.mark.parametrize(
    "value",
    [
        "${DB_PASSWORD}",
        "{{ .Values.db.password }}",
        "<your-password>",
        "changeme123",
        "xxxxxxxxxxxx",
        "12345678901",
        "os.environ['PW']",
    ],
)
def test_placeholders_are_not_findings(det: Detector, value: str) -> None:
    assert found(det, f'password = "{value}"') == set()


def test_documented_example_key_is_not_a_finding(det: Detector) -> None:
    assert found(det, "aws_access_key_id=AKIAIOSFODNN7EXAMPLE") == set()


def test_generic_match_overlapping_a_specific_one_is_dropped(det: Detector) -> None:
    token = github_token()
    assert found(det, f"password = {token}") == {("test.github.pat", token)}


def test_rule_hyperscan_cannot_compile_still_works_through_keywords(det: Detector) -> None:
    assert det.compiled.modes["test.lookaround"] in ("prefilter", "keyword")
    assert found(det, "x zq_p0o9i8u7y6t5r4e3w2q1 y") == {
        ("test.lookaround", "p0o9i8u7y6t5r4e3w2q1")
    }


def test_context_rules_run_only_on_secret_named_values(det: Detector) -> None:
    assert found(det, "Zk8#Lq2!xzWp", context="DB_PASSWORD") == {("test.context", "Zk8#Lq2!xzWp")}
    assert found(det, "Zk8#Lq2!xzWp", context="HOSTNAME") == set()
    assert found(det, "Zk8#Lq2!xzWp") == set()
    assert found(det, "${DB_PASSWORD}", context="DB_PASSWORD") == set()


@pytest.mark.parametrize(
    ("encode", "how"),
    [
        (lambda s: base64.b64encode(s.encode()).decode(), "base64"),
        (lambda s: base64.b64encode(base64.b64encode(s.encode())).decode(), "base64"),
        (lambda s: s.encode().hex(), "hex"),
        (lambda s: urllib.parse.quote(s, safe=""), "percent"),
        (lambda s: "".join(f"\\u{ord(c):04x}" for c in s), "unicode"),
    ],
)
def test_encoded_secrets_are_decoded_and_found(det: Detector, encode, how: str) -> None:  # type: ignore[no-untyped-def]
    key = aws_key_id()
    text = f"header\nblob: {encode('aws_access_key_id=' + key)}\n"
    matches = [m for m in det.scan(text.encode()) if m.secret == key]
    assert len(matches) == 1
    assert matches[0].line == 2
    assert matches[0].decoded[0] == how


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_and_utf32_files_are_transcoded(det: Detector, encoding: str) -> None:
    token = github_token()
    assert found(det, f"a\ntoken: {token}\n".encode(encoding)) == {("test.github.pat", token)}


def test_secret_on_a_window_edge_is_found(det: Detector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector_module, "WINDOW", 4096)
    monkeypatch.setattr(detector_module, "OVERLAP", 256)
    token = github_token()
    filler = b"x = 1\n" * 682  # 4092 bytes: the token straddles the first window's end
    data = filler + f"t={token}\n".encode() + b"y = 2\n" * 2000
    matches = det.scan_stream(io.BytesIO(data))
    assert [(m.secret, m.line) for m in matches] == [(token, 683)]


def test_stream_reports_each_secret_once_with_absolute_lines(
    det: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector_module, "WINDOW", 1000)
    monkeypatch.setattr(detector_module, "OVERLAP", 200)
    tokens = [github_token() for _ in range(5)]
    lines = []
    for i in range(500):
        lines.append(f"t={tokens[i // 100]}" if i % 100 == 50 else f"line {i}")
    matches = det.scan_stream(io.BytesIO("\n".join(lines).encode()))
    assert sorted((m.line, m.secret) for m in matches) == [
        (51 + 100 * k, tokens[k]) for k in range(5)
    ]


def test_catastrophic_pattern_is_cut_off_by_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(
        r"""
rules:
  - id: test.slow
    name: catastrophic
    pattern: '(?<=q)((?:a|aa)+)b'
    keywords: [qa]
    examples: [{text: 'qaab', secret: 'aa'}]
    negative_examples: ['qc']
"""
    )
    det = Detector(
        load_rules([tmp_path], include_builtin=False), use_cache=False, regex_timeout=0.2
    )
    det.scan(b"q" + b"a" * 60 + b"c qaab\n")
    assert det.timeouts >= 1


def test_the_same_rules_in_another_order_do_not_share_a_stale_compiled_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pattern ids in the cached database follow the rules' order: reordering a rule file
    must not load a database whose ids point at other rules."""
    monkeypatch.setenv("LEAKSCAN_CACHE_DIR", str(tmp_path / "cache"))
    rules = load_rules([write_rules(tmp_path / "rules")], include_builtin=False)
    assert len(rules) >= 2
    for order in (rules, list(reversed(rules))):
        assert run_examples(Detector(order, use_cache=True)) == []


def test_a_decoded_secret_repeated_later_is_reported_at_every_line(det: Detector) -> None:
    key = aws_key_id()
    blob = base64.b64encode(f"aws_access_key_id={key}".encode()).decode()
    text = f"first: {blob}\nother: 1\nagain: {blob}\nplain: {key}\n"
    lines = sorted(m.line for m in det.scan(text.encode()) if m.secret == key)
    assert lines == [1, 3, 4]
