"""Noise: real third-party YAML/JSON/TOML/INI files (shipped by installed packages and the
system) scanned with the builtin rules. Findings must stay few; the suite prints how many."""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner

from leakscan.cli import app
from tests.conftest import require

runner = CliRunner()

SUFFIXES = {".json", ".yaml", ".yml", ".toml", ".ini", ".cfg"}
ROOTS = (
    sysconfig.get_paths()["purelib"],  # the venv's site-packages
    sysconfig.get_paths()["stdlib"],  # the interpreter's library (test data included)
    "/usr/share",
    "/etc",
)
MAX_FILE = 1024 * 1024
MAX_TOTAL = 24 * 1024 * 1024
MAX_FINDINGS_PER_MB = 3.0


def _walk(base: Path) -> Iterator[Path]:
    """What ``sorted(base.rglob("*"))`` lists, in its order, but lazily (the corpus is full
    long before the trees are walked): depth first, each folder's entries by name, no
    symbolic link to a folder followed."""
    try:
        with os.scandir(base) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = base / entry.name
        yield path
        try:
            into = entry.is_dir(follow_symlinks=False)
        except OSError:
            into = False
        if into:
            yield from _walk(path)


def _collect(dest: Path) -> tuple[int, int]:
    """Copy third-party config files into ``dest`` (each keeps its own name)."""
    files = total = 0
    for root in ROOTS:
        base = Path(root)
        if not base.is_dir():
            continue
        for path in _walk(base):
            if total >= MAX_TOTAL:
                return files, total
            try:
                if path.suffix not in SUFFIXES or path.is_symlink() or not path.is_file():
                    continue
                size = path.stat().st_size
            except OSError:
                continue
            if size > MAX_FILE:
                continue
            target = dest / f"{files:05d}" / path.name
            target.parent.mkdir(parents=True)
            try:
                shutil.copyfile(path, target)
            except OSError:
                continue
            files += 1
            total += size
    return files, total


def test_third_party_config_files_stay_quiet(tmp_path: Path) -> None:
    files, total = _collect(tmp_path / "noise")
    require(files >= 10, "too few third-party config files on this machine")
    result = runner.invoke(app, ["scan", str(tmp_path / "noise"), "-f", "json"])
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)
    findings = doc["findings"]
    structured = sum(1 for f in findings for loc in f["locations"] if "key" in loc)
    megabytes = max(total / 1e6, 1.0)
    print(
        f"\nnoise corpus: {files} files, {total / 1e6:.1f} MB: {len(findings)} finding(s) "
        f"({structured} location(s) from a key), {len(doc['skipped'])} skip(s), "
        f"{doc['stats']['seconds']}s",
        file=sys.stderr,
    )
    for finding in findings[:20]:
        loc = finding["locations"][0]
        print(
            f"  {finding['rule_id']}: {loc.get('path')}:{loc.get('line')} {loc.get('key', '')}",
            file=sys.stderr,
        )
    assert len(findings) / megabytes < MAX_FINDINGS_PER_MB


def test_lone_surrogate_escape_does_not_abort_the_scan(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text('{"pattern": "[\\ud800-\\udbff]"}\n')
    result = runner.invoke(app, ["scan", str(tmp_path), "-f", "json"])
    assert result.exit_code == 0, result.output
