"""Deeply nested structured text (issue 19 case 1): PyYAML's C composer recursed once per level
with no guard and a 60 000-level ``[[[…]]]`` killed the process (SIGSEGV, no report). Every
such file is now a reported skip, scanned as text, and the other files still report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leakscan.yamldepth import TooDeep, check_depth, depth_bound
from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(120)

LEVELS = 70_000

DEEP = {
    "flow-seq.yaml": "a: " + "[" * LEVELS + "]" * LEVELS,
    "flow-map.yaml": "a: " + "{a: " * LEVELS + "}" * LEVELS,
    "block-seq.yml": "- " * LEVELS + "x",
    "mixed.yaml": "k:\n" + "  - " + "[{a: " * (LEVELS // 2) + "1" + "}]" * (LEVELS // 2),
    "unclosed.yaml": "a: " + "[" * LEVELS,
    "compose.yaml": "services:\n  web:\n    environment: " + "[" * LEVELS + "]" * LEVELS,
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_deep_yaml_is_skipped_scanned_as_text_and_the_rest_reports(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    root = tmp_path / "tree"
    root.mkdir()
    in_deep = {name: ghp_token() for name in DEEP}
    for name, text in DEEP.items():
        (root / name).write_text(f"{text}\n# token: {in_deep[name]}\n")
    beside = ghp_token()
    (root / "app.yaml").write_text(f"token: {beside}\n")
    proc = _cli("scan", str(root), "--rules", str(rules), "-f", "json", "--show-secrets")
    assert proc.returncode == 1, proc.stderr[-2000:]  # not -11 / 139
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    found = {f["secret"] for f in doc["findings"]}
    assert beside in found
    assert set(in_deep.values()) <= found  # each deep file is still scanned as text
    reasons = {Path(s["where"]).name: s["reason"] for s in doc["skipped"]}
    for name in DEEP:
        assert "nested deeper than" in reasons[name], (name, reasons.get(name))


def test_deep_rule_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "deep.yaml").write_text("rules: " + "[" * LEVELS + "]" * LEVELS + "\n")
    proc = _cli("scan", str(tmp_path / "rules"), "--rules", str(rules))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "nested deeper than" in proc.stderr


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb:\n  c: [1, 2, {d: e}]\n",
        "- a\n- - b\n  - c\n",
        '{"a": [[["[[[[[[[[[["]]]}',  # brackets inside a string do not count in the exact pass
    ],
)
def test_ordinary_yaml_passes(text: str) -> None:
    check_depth(text, 8, yaml.SafeLoader)


def test_bound_is_an_upper_bound_for_indentation_and_indentless_sequences() -> None:
    text = "a:\n- b:\n  - c:\n    - d: 1\n"  # seven collections, the sequences indentless
    assert depth_bound(text) >= 7
    with pytest.raises(TooDeep):
        check_depth(text, 6, yaml.SafeLoader)
    check_depth(text, 7, yaml.SafeLoader)


def test_deep_json_manifest_and_image_config(tmp_path: Path) -> None:
    from tests.sources.image.helpers import tar_bytes, write_oci_layout

    rules = write_rules(tmp_path / "rules")
    root = tmp_path / "tree"
    root.mkdir()
    (root / "deep.json").write_text('{"a": ' + "[" * LEVELS + "]" * LEVELS + "}")
    beside = ghp_token()
    (root / "app.json").write_text(f'{{"token": "{beside}"}}')
    proc = _cli("scan", str(root), "--rules", str(rules), "-f", "json", "--show-secrets")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert beside in {f["secret"] for f in doc["findings"]}
    assert any(Path(s["where"]).name == "deep.json" for s in doc["skipped"])
    # an image whose configuration nests 70 000 levels: one line, exit 2
    deep = {"config": {"Env": []}, "x": None}
    write_oci_layout(tmp_path / "oci", [(tar_bytes([("a.txt", b"x")]), "none")], deep)
    cfg_dir = tmp_path / "oci" / "blobs" / "sha256"
    index = json.loads((tmp_path / "oci" / "index.json").read_text())
    manifest_path = cfg_dir / index["manifests"][0]["digest"][7:]
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    cfg = ('{"x": ' + "[" * LEVELS + "]" * LEVELS + "}").encode()
    digest = hashlib.sha256(cfg).hexdigest()
    (cfg_dir / digest).write_bytes(cfg)
    manifest["config"].update(digest="sha256:" + digest, size=len(cfg))
    data = json.dumps(manifest).encode()
    mdigest = hashlib.sha256(data).hexdigest()
    (cfg_dir / mdigest).write_bytes(data)
    index["manifests"][0].update(digest="sha256:" + mdigest, size=len(data))
    (tmp_path / "oci" / "index.json").write_text(json.dumps(index))
    proc = _cli("scan", "image", f"oci:{tmp_path / 'oci'}", "--rules", str(rules))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and "not JSON" in proc.stderr
