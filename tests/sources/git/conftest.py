"""Fixtures of the git tests: git itself, and the small rule set they scan with."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import require
from tests.helpers import write_rules


@pytest.fixture(autouse=True)
def _git() -> None:
    require(shutil.which("git") is not None, "git is not installed")


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return write_rules(tmp_path / "rules")
