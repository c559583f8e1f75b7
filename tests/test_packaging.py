"""Nothing we ship installs a package by a name we do not own: the name `leakscan` on PyPI is
another project's; ours is `leakscan-secrets`, the command and import package `leakscan`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "leakscan-secrets"
# `pip install leakscan` / "leakscan==1.0" / leakscan>=1: the bare name as a requirement
_BARE = re.compile(
    r"""(?:pip[0-9.]* install[^\n]*?\s|["'])leakscan(?:\[[a-z,]+\])?(?:[=<>~!]=?[^\s"']*)?(?=["'\s]|$)"""
)


def test_distribution_name_is_ours_and_the_command_stays_leakscan() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"leakscan": "leakscan.cli:main"}


def test_action_installs_our_distribution_or_its_own_source() -> None:
    action = (REPO / "action.yml").read_text()
    installs = [line.strip() for line in action.splitlines() if "pip install" in line]
    assert installs, "the action installs leakscan somehow"
    assert all(
        f'"{DISTRIBUTION}==$LEAKSCAN_VERSION"' in line or "$GITHUB_ACTION_PATH" in line
        for line in installs
    ), installs


def test_no_shipped_file_installs_the_bare_name() -> None:
    shipped = [REPO / "action.yml", REPO / "Dockerfile", REPO / "Makefile", REPO / "README.md"]
    shipped += sorted((REPO / "docs").glob("*.md")) + sorted((REPO / "examples").glob("*"))
    for path in shipped:
        for line in path.read_text().splitlines():
            if "pip" in line and "install" in line:
                assert not _BARE.search(line), f"{path.name}: {line.strip()}"
