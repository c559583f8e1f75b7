"""The watch loop against a fake daemon: reconnect with backoff, backfill, each finding once."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from leakscan.model import Finding, Location, Provenance, ScanResult, Stats
from leakscan.watch.backoff import Backoff
from leakscan.watch.daemon import DaemonGone
from leakscan.watch.events import EventQueue, Target, target_of
from leakscan.watch.loop import Watcher
from leakscan.watch.state import WatchState


class FakeDaemon:
    def __init__(self, images: list[str], events: list[dict[str, Any]], fail: bool) -> None:
        self.images = images
        self._events = events
        self._fail = fail  # the stream breaks after its events (the daemon goes away)
        self.closed = False

    def events(self) -> Iterator[Mapping[str, Any]]:
        yield from self._events
        if self._fail:
            raise ConnectionError("socket gone")

    def image_ids(self) -> list[str]:
        return list(self.images)

    def container_ids(self) -> list[str]:
        return []

    def image(self, ref: str) -> Mapping[str, Any] | None:
        return {"Id": ref, "RepoTags": [f"{ref}:latest"]}

    def container(self, ref: str) -> Mapping[str, Any] | None:
        return None

    def history(self, ref: str) -> list[Mapping[str, Any]] | None:
        return None

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class FakeUnits:
    """One finding per image, its fingerprint the image id's; stops the watch at ``last``."""

    rules_key = "rules-1"

    def __init__(self, last: str) -> None:
        self.last = last
        self.scanned: list[str] = []
        self.watcher: Watcher | None = None

    def image(self, attrs: Mapping[str, Any], name: str, history: Any = None) -> ScanResult:
        image_id = str(attrs["Id"])
        self.scanned.append(image_id)
        if image_id == self.last and self.watcher is not None:
            self.watcher.stop()
        prov = Provenance("image-config", {"image": name, "field": "Env[TOKEN]"})
        finding = Finding(f"fp-{image_id}", "r", "R", "high", "high", "ab…cd", None)
        finding.locations.append(Location(prov))
        return ScanResult([finding], [], Stats())

    def container(self, attrs: Mapping[str, Any], image: Mapping[str, Any] | None) -> ScanResult:
        raise AssertionError("no containers here")


def _event(image: str) -> dict[str, Any]:
    return {"Type": "image", "Action": "load", "Actor": {"ID": image, "Attributes": {}}}


def test_daemon_going_away_is_survived_with_backoff_and_a_backfill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # session 1: image a on the host, b loaded (an event), then the daemon goes away;
    # one connection attempt fails (restarting); session 2 finds c, loaded while it was down
    first = FakeDaemon(["a"], [_event("b")], fail=True)
    second = FakeDaemon(["a", "b", "c"], [], fail=False)
    connections: list[object] = [first, DaemonGone("cannot reach the docker daemon"), second]

    def connect() -> FakeDaemon:
        item = connections.pop(0)
        if isinstance(item, Exception):
            raise item
        assert isinstance(item, FakeDaemon)
        return item

    waits: list[float] = []
    units = FakeUnits(last="c")
    emitted: list[dict[str, Any]] = []
    state = WatchState(tmp_path / "w.sqlite")
    watcher = Watcher(
        connect,
        units,
        state,
        emitted.append,
        backoff=Backoff(base=1.0, factor=2.0, cap=60.0),
        wait=lambda seconds: waits.append(seconds) or False,
        poll=0.01,
    )
    units.watcher = watcher
    with caplog.at_level(logging.INFO, logger="leakscan"):
        summary = watcher.run()

    assert units.scanned == ["a", "b", "c"]  # a and b not scanned again after the reconnect
    assert [(r["target"]["id"], r["fingerprint"]) for r in emitted] == [
        ("a", "fp-a"),
        ("b", "fp-b"),
        ("c", "fp-c"),
    ]
    assert emitted[0]["target"]["name"] == "a:latest" and "secret" not in emitted[0]
    assert waits == [1.0, 2.0]  # the backoff, asked of the injected wait: nothing slept
    assert summary.reconnects == 1 and first.closed and second.closed
    gone = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(gone) == 1 and "went away" in gone[0].getMessage()
    state.close()

    # a restart with the same state re-emits nothing and scans nothing
    again = FakeUnits(last="")
    emitted.clear()
    state = WatchState(tmp_path / "w.sqlite")
    summary = Watcher(
        lambda: FakeDaemon(["a", "b", "c"], [], fail=False), again, state, emitted.append, once=True
    ).run()
    assert (again.scanned, emitted, summary.errors) == ([], [], [])


def test_once_with_no_daemon_is_an_error_not_a_wait(tmp_path: Path) -> None:
    def connect() -> FakeDaemon:
        raise DaemonGone("cannot reach the docker daemon: no socket")

    waits: list[float] = []
    watcher = Watcher(
        connect,
        FakeUnits(last=""),
        WatchState(tmp_path / "w.sqlite"),
        lambda r: None,
        once=True,
        wait=lambda s: waits.append(s) or False,
    )
    summary = watcher.run()
    assert summary.errors == ["cannot reach the docker daemon: no socket"] and waits == []


def test_full_queue_drops_and_counts_but_never_drops_control() -> None:
    from leakscan.watch.events import Disconnected

    queue = EventQueue(2)
    accepted = [queue.put(Target("image", str(i))) for i in range(5)]
    queue.put_control(Disconnected("gone"))
    assert accepted == [True, True, False, False, False]
    assert queue.take_dropped() == 3 and queue.take_dropped() == 0
    items = [queue.get(0) for _ in range(4)]
    assert items[:2] == [Target("image", "0"), Target("image", "1")]
    assert items[2] == Disconnected("gone") and items[3] is None


@pytest.mark.parametrize(
    ("event", "target"),
    [
        ({"Type": "image", "Action": "pull", "Actor": {"ID": "busybox:latest"}}, "image"),
        ({"Type": "image", "Action": "tag", "Actor": {"ID": "sha256:ab"}}, "image"),
        ({"Type": "container", "Action": "create", "Actor": {"ID": "c1"}}, "container"),
        ({"Type": "container", "Action": "start", "Actor": {"ID": "c1"}}, None),
        ({"Type": "image", "Action": "delete", "Actor": {"ID": "sha256:ab"}}, None),
        ({"Type": "network", "Action": "create", "Actor": {"ID": "n1"}}, None),
    ],
)
def test_which_events_bring_work(event: dict[str, Any], target: str | None) -> None:
    found = target_of(event)
    assert (found.kind if found else None) == target


def test_dropped_events_are_reported_and_caught_by_a_backfill(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    streamed = threading.Event()

    class Daemon(FakeDaemon):
        def events(self) -> Iterator[Mapping[str, Any]]:
            yield from self._events
            streamed.set()  # every event was offered to the queue

        def image_ids(self) -> list[str]:
            ids = list(self.images)
            self.images += ["b", "c", "d"]  # loaded after the first listing
            return ids

    class Units(FakeUnits):
        def image(self, attrs: Mapping[str, Any], name: str, history: Any = None) -> ScanResult:
            if attrs["Id"] == "a":
                assert streamed.wait(30)  # the backfill is slow: the queue (1) overflows
            return super().image(attrs, name)

    daemon = Daemon(["a"], [_event("b"), _event("c"), _event("d")], fail=False)
    units = Units(last="d")
    emitted: list[dict[str, Any]] = []
    watcher = Watcher(
        lambda: daemon, units, WatchState(tmp_path / "w.sqlite"), emitted.append, queue_size=1
    )
    units.watcher = watcher
    with caplog.at_level(logging.WARNING, logger="leakscan"):
        summary = watcher.run()
    assert units.scanned == ["a", "b", "c", "d"]  # c and d: found by the backfill
    assert summary.dropped == 2
    assert "2 event(s) dropped" in caplog.text


def test_a_unit_that_fails_keeps_its_findings_and_is_scanned_again(tmp_path: Path) -> None:
    class Failing(FakeUnits):
        def image(self, attrs: Mapping[str, Any], name: str, history: Any = None) -> ScanResult:
            result = super().image(attrs, name)
            result.errors.append("docker save stream truncated")
            return result

    emitted: list[dict[str, Any]] = []
    state = WatchState(tmp_path / "w.sqlite")
    daemon = FakeDaemon(["a"], [], fail=False)
    summary = Watcher(lambda: daemon, Failing(last=""), state, emitted.append, once=True).run()
    assert summary.errors == ["a:latest: docker save stream truncated"] and summary.failed == 1
    assert [r["fingerprint"] for r in emitted] == ["fp-a"]  # what it found is still emitted

    again = FakeUnits(last="")
    emitted.clear()
    Watcher(lambda: daemon, again, state, emitted.append, once=True).run()
    assert again.scanned == ["a"] and emitted == []  # scanned again; its finding not re-emitted
