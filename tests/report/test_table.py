"""The table as a person reads it: the line in context, a caret, colour only on a colour
terminal, full build steps, layers as Docker counts them, git places named for what they are."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from leakscan.cli.output import colour_wanted
from leakscan.model import Finding, Location, Provenance, ScanResult, Stats
from leakscan.report.table import TableReporter, describe
from tests.helpers import github_token, write_rules

REPO = Path(__file__).resolve().parents[2]


def _finding(secret: str, *locations: Location, severity: str = "high") -> Finding:
    return Finding(
        fingerprint="ab" * 32,
        rule_id="test.github.pat",
        rule_name="Test GitHub token",
        severity=severity,
        confidence="high",
        redacted=f"ghp_…{secret[-4:]}",
        secret=secret,
        locations=list(locations),
    )


def _render(*findings: Finding, **kwargs: object) -> str:
    result = ScanResult(list(findings), [], Stats())
    return TableReporter(**kwargs).render(result)  # type: ignore[arg-type]


def test_line_in_context_with_the_secret_masked_and_a_caret(tmp_path: Path) -> None:
    token, other = github_token(), github_token()
    path = tmp_path / "deploy.sh"
    path.write_text(f'#!/bin/sh\ncurl -H "Authorization: token {token}" https://api/\n')
    loc = Location(Provenance("file", {"path": str(path)}), line=2, column=32)
    text = _render(_finding(token, loc), _finding(other))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "│ curl" in line)
    shown, caret = lines[at], lines[at + 1]
    assert 'curl -H "Authorization: token ghp_…' in shown and token not in text
    start = shown.index("ghp_…")
    assert caret[start] == "^" and caret[start - 1] == " "
    assert caret.strip(" │").startswith("^")


def test_other_secrets_on_the_shown_line_are_masked_too(tmp_path: Path) -> None:
    first, second = github_token(), github_token()
    path = tmp_path / "two.env"
    path.write_text(f"A={first} B={second}\n")
    loc = Location(Provenance("file", {"path": str(path)}), line=1, column=3)
    text = _render(_finding(first, loc), _finding(second))
    assert first not in text and second not in text
    assert f"B=ghp_…{second[-4:]}" in text


def test_colour_only_when_asked_and_never_under_no_color() -> None:
    loc = Location(Provenance("file", {"path": "nowhere"}), line=1)
    plain = _render(_finding(github_token(), loc, severity="critical"))
    coloured = _render(_finding(github_token(), loc, severity="critical"), color=True)
    assert "\x1b[" not in plain
    assert coloured.startswith("\x1b[1;31mCRIT\x1b[0m")
    assert colour_wanted({}) and colour_wanted({"TERM": "xterm-256color"})
    assert not colour_wanted({"NO_COLOR": "1"}) and not colour_wanted({"TERM": "dumb"})


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run leakscan with stdout on a pseudo-terminal; what it printed there."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakscan.cli", *args],
        stdout=child,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_real_terminal_gets_colour_and_no_color_turns_it_off(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={github_token()}\n")
    args = ["scan", str(tmp_path / "a.env"), "--rules", str(rules), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    assert "\x1b[31mHIGH\x1b[0m" in _on_a_terminal(args, env)
    assert "\x1b[" not in _on_a_terminal(args, {**env, "NO_COLOR": "1"})


def test_created_by_is_wrapped_in_full_and_layers_count_from_one() -> None:
    step = (
        "/bin/sh -c #(nop) COPY file:6e01b3c2a9d8f7e6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a2918"
        "07f6e5 in /root/.npmrc "
    )
    loc = Location(
        Provenance(
            "image-layer",
            {
                "image": "app:1",
                "layer_digest": "sha256:" + "0123456789abcdef" * 4,
                "layer_index": 3,
                "created_by": step,
                "path": "root/.npmrc",
                "state": "deleted",
                "deleted_in_layer": 5,
            },
        ),
        line=1,
    )
    text = _render(_finding(github_token(), loc), width=80)
    assert "app:1 layer 4 (sha256:0123456789ab) root/.npmrc:1 [deleted in layer 6]" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "created by " in line)
    indent = lines[at].index("created by ") + len("created by ")
    wrapped = [lines[at][indent:]]
    wrapped += [line[indent:] for line in lines[at + 1 :] if line[:indent].isspace()]
    assert len(wrapped) > 1  # wrapped, not cut
    assert "".join("".join(wrapped).split()) == "".join(step.split())  # nothing cut
    assert wrapped[-1].endswith("in /root/.npmrc")  # the destination survives


@pytest.mark.parametrize(
    ("fields", "line", "expected", "absent"),
    [
        ({"repo": "r", "path": "app/.env", "staged": True}, 3, "app/.env:3 (staged)", "@"),
        (
            {"repo": "r", "commit": "0123456789abcdef", "author": "Ann <a@x>", "path": None,
             "field": "message", "date": "2026-01-02"},
            2,
            "commit message of 0123456789:2 Ann <a@x> 2026-01-02",
            "None",
        ),
        (
            {"repo": "r", "ref": "refs/tags/v1", "tag_object": "ff" * 20, "path": None,
             "field": "tag-message"},
            1,
            "tag message of refs/tags/v1:1",
            "None",
        ),
        (
            {"repo": "r", "object": "abcdef0123456789" * 2, "unreachable": True},
            4,
            "unreachable blob abcdef012345:4",
            "None",
        ),
        (
            {"repo": "r", "commit": "0123456789abcdef", "path": "k.pem", "author": "Ann",
             "date": "2026-01-02", "in_head": False},
            1,
            "k.pem:1 @ 0123456789 Ann 2026-01-02 [not in HEAD]",
            "None",
        ),
    ],
)  # fmt: skip
def test_git_places_are_named_for_what_they_are(
    fields: dict[str, object], line: int, expected: str, absent: str
) -> None:
    text = describe(Location(Provenance("git", fields), line=line))
    assert text == expected
    assert absent not in text.replace("<a@x>", "")
