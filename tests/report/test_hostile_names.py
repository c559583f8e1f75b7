"""Hostile names in every report (issue 19 cases 3 and 7).

A file name that is not UTF-8 left an empty ``-o`` file and a traceback (``surrogates not
allowed``); names holding ESC, BEL, OSC 52 or a newline made JUnit invalid XML, cleared the
screen, wrote to the clipboard, or forged a ``CRIT`` line in the table. Every writer now
shows such a name escaped, readable, and the report is complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs byte file names")

NAMES = {
    "latin1": b"caf\xe9-\xff.env",  # not UTF-8: a surrogate-escaped str in Python
    "osc52": b"\x1b]52;c;ZWNobyBwd25lZA==\x07.txt",  # writes the clipboard when printed
    "clear": b"\x1b[2J\x1b[H\x07bell.txt",  # clears the screen, rings the bell
    "newline": b"x\nCRIT Forged finding  ghp_****\n.txt",  # a fake report line
    "bidi": "a\u202eexe.txt".encode(),  # right-to-left override
}
FORMATS = ["table", "json", "jsonl", "sarif", "gitlab", "junit", "html"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("names")
    rules = write_rules(base / "rules")
    root = base / "tree"
    root.mkdir()
    secrets = {}
    for key, name in NAMES.items():
        secrets[key] = ghp_token()
        with open(os.path.join(os.fsencode(root), name), "w") as fh:
            fh.write(f"token = {secrets[key]}\n")
    return root, rules, secrets


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args], capture_output=True, timeout=120, check=False
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_writes_hostile_names_escaped(
    tree: tuple[Path, Path, dict[str, str]], tmp_path: Path, fmt: str
) -> None:
    root, rules, _ = tree
    out = tmp_path / f"report.{fmt}"
    proc = _run("scan", str(root), "--rules", str(rules), "-f", fmt, "-o", str(out), "-v")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")[-2000:]
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")[-2000:]
    text = out.read_bytes().decode("utf-8")  # readable UTF-8, never empty
    for control in ("\x1b", "\x07", "\u202e"):
        assert control not in text, (fmt, control)
    assert "caf\\xe9-\\xff.env" in text.replace("\\\\", "\\")  # the bytes, shown escaped
    if fmt in ("json", "sarif", "gitlab"):
        json.loads(text)
    elif fmt == "jsonl":
        [json.loads(line) for line in text.splitlines()]
    elif fmt == "junit":
        suites = ET.fromstring(text)
        names = [case.get("name") or "" for case in suites.iter("testcase")]
        assert len(names) == len(NAMES)
        assert any("\\x1b]52;c;" in n for n in names)
    elif fmt == "table":
        assert not any(line.startswith("CRIT Forged") for line in text.splitlines())
        assert "x\\nCRIT Forged finding" in text
    # stderr (the -v skip/error lines, logs) is one escaped line per message as well
    for control in (b"\x1b", b"\x07"):
        assert control not in proc.stderr


def test_table_on_stdout_with_hostile_names(tree: tuple[Path, Path, dict[str, str]]) -> None:
    root, rules, secrets = tree
    proc = _run("scan", str(root), "--rules", str(rules), "--show-secrets")
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    text = proc.stdout.decode("utf-8")
    assert all(s in text for s in secrets.values())
    assert "\x1b" not in text and "\x07" not in text
    crit = [
        line for line in text.splitlines() if line.startswith("CRIT") or line.startswith("HIGH")
    ]
    assert len(crit) == len(NAMES)  # one header line per finding, none forged
