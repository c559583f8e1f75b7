"""Audit progress: a live line on a terminal, one status line a minute elsewhere (the clock is
injected: nothing sleeps), and Ctrl-C says how to resume."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from leakscan.audit.progress import Snapshot
from leakscan.cli.audit_progress import AuditStatus, status_text
from tests.audit.conftest import World, audit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _snap(done: int, repo: str = "team/web", scanned_mb: int = 0) -> Snapshot:
    return Snapshot(done, 10, repo, 7, 3, scanned_mb * 1_000_000, 0)


def test_status_line_says_images_repository_layers_rate_and_eta() -> None:
    text = status_text(_snap(4, scanned_mb=80), elapsed=40.0)
    assert text.startswith("4/10 images")
    assert "repo team/web" in text and "layers 7 cached, 3 scanned" in text
    assert "2.0 MB/s" in text and "ETA 1m00s" in text  # 6 images left at 10 s each


def test_a_distributed_audit_line_also_counts_the_cluster_layers() -> None:
    import dataclasses

    snap = dataclasses.replace(_snap(0), cluster_layers=(12, 56))
    text = status_text(snap, elapsed=5.0)
    assert text.startswith("0/10 images")
    assert "layers 7 cached, 3 scanned · cluster 12/56 layers" in text
    assert "cluster" not in status_text(_snap(0), elapsed=5.0)


def test_not_a_terminal_one_status_line_a_minute() -> None:
    clock, out = Clock(), io.StringIO()
    status = AuditStatus(out, is_terminal=False, clock=clock)
    status.start(10)
    assert out.getvalue().count("\n") == 1  # "audit of 10 image(s) started"
    for second in range(0, 59, 5):
        clock.now = 1000.0 + second
        status.update(_snap(1))
    assert out.getvalue().count("\n") == 1  # less than a minute: nothing more
    clock.now = 1061.0
    status.update(_snap(2, repo="team/api"))
    clock.now = 1062.0
    status.update(_snap(3))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "2/10 images" in lines[1] and "team/api" in lines[1]
    clock.now = 1125.0
    status.update(_snap(5))
    assert len(out.getvalue().splitlines()) == 3
    status.close()


def test_terminal_live_line() -> None:
    clock, out = Clock(), io.StringIO()
    status = AuditStatus(out, is_terminal=True, clock=clock)
    status.start(10)
    clock.now += 10
    status.update(_snap(2, repo="team/api", scanned_mb=50))
    status.close()
    text = out.getvalue()
    assert "2/10" in text and "team/api" in text and "MB/s" in text and "ETA" in text


def test_no_progress_writes_nothing() -> None:
    out = io.StringIO()
    status = AuditStatus(out, is_terminal=False, enabled=False, clock=Clock())
    status.start(3)
    status.update(_snap(1))
    status.close()
    assert out.getvalue() == ""


@pytest.mark.registry
def test_interrupted_audit_says_how_to_resume(world: World, tmp_path: Path) -> None:
    code, doc, output = audit(
        world, tmp_path, "--repo", "au/*", env={"LEAKSCAN_AUDIT_STOP_AFTER": "1"}
    )
    assert code == 2
    assert "run the same command again to resume" in output
    assert doc["audit"]["interrupted"] is True
