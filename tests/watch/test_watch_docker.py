"""``leakscan watch`` with the tests' real dockerd: backfill, events, restart, webhook."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

from typer.testing import CliRunner

from leakscan.api import ScanConfig
from leakscan.cli import app
from leakscan.watch.backoff import Backoff
from leakscan.watch.daemon import DockerDaemon
from leakscan.watch.emit import WebhookSender
from leakscan.watch.loop import Watcher
from leakscan.watch.scanning import UnitScanner
from leakscan.watch.state import WatchState
from tests.sources.image.helpers import RULE_ID, token
from tests.watch.conftest import Planted, build_context, docker, rootfs

DEADLINE = 180.0  # seconds to wait for a finding before the test fails (never a pass)


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mine(lines: list[dict[str, Any]], *secrets: str) -> list[tuple[str, str, str]]:
    """(target kind, target name, secret) of the lines about these secrets, in order."""
    return [
        (r["target"]["kind"], r["target"]["name"], r["secret"])
        for r in lines
        if r["rule_id"] == RULE_ID and r.get("secret") in secrets
    ]


def watch_once(rules: Path, state: Path, *extra: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(
        app,
        ["watch", "--once", "--state", str(state), "--rules", str(rules), "--show-secrets", *extra],
        catch_exceptions=False,
    )
    return result.exit_code, records(result.stdout), result.stderr


def test_once_backfills_layer_and_container_env_then_a_restart_emits_nothing(
    planted: Planted, watch_rules: Path, tmp_path: Path
) -> None:
    state = tmp_path / "watch.sqlite"
    code, lines, err = watch_once(watch_rules, state)
    assert code == 1, err
    found = mine(
        lines,
        planted.layer_secret,
        planted.image_env_secret,
        planted.container_secret,
        planted.label_secret,
    )
    found = [f for f in found if f[1] in (planted.image, planted.container)]  # not images on it
    assert sorted(found) == sorted(
        [
            ("image", planted.image, planted.layer_secret),
            ("image", planted.image, planted.image_env_secret),
            # the container's own env and labels only: IMAGE_TOKEN and the image.token label
            # are its image's, reported there
            ("container", planted.container, planted.container_secret),
            ("container", planted.container, planted.label_secret),
        ]
    )
    [layer] = [
        r
        for r in lines
        if r.get("secret") == planted.layer_secret and r["target"]["name"] == planted.image
    ]
    [loc] = layer["locations"]
    assert (loc["kind"], loc["path"], loc["image"]) == (
        "image-layer",
        "app/.env",
        f"docker-daemon:{planted.image}",
    )
    [env] = [r for r in lines if r.get("secret") == planted.container_secret]
    assert env["locations"] == [
        {"kind": "container-env", "container": planted.container, "name": "API_TOKEN"}
    ]
    [label] = [r for r in lines if r.get("secret") == planted.label_secret]
    assert {loc["field"] for loc in label["locations"]} == {"Labels[deploy.token]"}

    code, lines, err = watch_once(watch_rules, state)  # same state: nothing new
    assert (code, lines) == (0, []), err

    out = tmp_path / "findings.jsonl"
    out.write_text('{"earlier": true}\n')
    args = ["watch", "--once", "--state", str(tmp_path / "r.sqlite"), "--output", str(out)]
    result = CliRunner().invoke(  # a fresh state, no --show-secrets: redacted; to a file
        app, [*args, "--rules", str(watch_rules)], catch_exceptions=False
    )
    assert result.stdout == ""
    earlier, *redacted = records(out.read_text())
    assert earlier == {"earlier": True}  # appended, never truncated
    code = result.exit_code
    assert code == 1 and redacted and all("secret" not in r for r in redacted)
    assert not any(planted.layer_secret in json.dumps(r) for r in redacted)


class _Lines:
    """The JSON lines of a running watch, read by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.got: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.all: list[dict[str, Any]] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            if line.strip():
                self.got.put(json.loads(line))
        self.got.put(None)

    def until(self, secret: str, target: str | None = None) -> None:
        while True:
            try:
                record = self.got.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"no finding within {DEADLINE}s") from None
            assert record is not None, "the watch ended"
            self.all.append(record)
            if record.get("secret") == secret and target in (None, record["target"]["name"]):
                return

    def rest(self) -> list[dict[str, Any]]:
        self._thread.join(60)
        while not self.got.empty():
            record = self.got.get()
            if record is not None:
                self.all.append(record)
        return self.all


def test_running_watch_picks_up_a_load_and_a_create_each_once(
    dockerd: str, watch_rules: Path, tmp_path: Path
) -> None:
    # an image saved and removed: loaded while the watch runs
    loaded_secret = token()
    docker("import", "-", "leakscan-watch-load:1", input=rootfs({"srv/key.txt": loaded_secret}))
    archive = tmp_path / "load.tar"
    docker("save", "-o", str(archive), "leakscan-watch-load:1")
    docker("rmi", "leakscan-watch-load:1")
    state = tmp_path / "watch.sqlite"
    command = [sys.executable, "-m", "leakscan.cli", "watch", "--state", str(state)]
    command += ["--rules", str(watch_rules), "--show-secrets"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _Lines(proc)
        docker("load", "-i", str(archive))
        lines.until(loaded_secret)
        created_secret = token()
        docker(
            "create",
            "--name",
            "leakscan-watch-c2",
            "-e",
            f"API_TOKEN={created_secret}",
            "leakscan-watch-load:1",
            "/bin/sh",
        )
        lines.until(created_secret)
        docker("tag", "leakscan-watch-load:1", "leakscan-watch-load:2")  # same image: no news
        build_secret = token()  # a build argument a RUN step used: in the image's history
        docker(
            "build",
            "-q",
            "--build-arg",
            f"NPM_TOKEN={build_secret}",
            "-t",
            "leakscan-watch-built:1",
            str(build_context(tmp_path / "ctx")),
            legacy=True,
        )
        lines.until(build_secret, target="leakscan-watch-built:1")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    everything = lines.rest()
    found = mine(everything, loaded_secret, created_secret)
    assert sorted(found) == sorted(
        [
            ("image", "leakscan-watch-load:1", loaded_secret),
            ("container", "leakscan-watch-c2", created_secret),
        ]
    ), err
    [built] = [r for r in everything if r["target"]["name"] == "leakscan-watch-built:1"]
    assert built["secret"] == build_secret
    assert all(loc["kind"] == "image-config" for loc in built["locations"])
    assert any(loc["field"].startswith("History[") for loc in built["locations"])

    _, again, err = watch_once(watch_rules, state)  # restart, same state: nothing re-emitted
    assert mine(again, loaded_secret, created_secret) == [], err


class _Receiver(BaseHTTPRequestHandler):
    """Fails the first POST (503), accepts the others; keeps their bodies."""

    bodies: ClassVar[list[bytes]] = []
    statuses: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status = 503 if not self.statuses else 204
        self.statuses.append(status)
        if status == 204:
            self.bodies.append(body)
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook/s3cr3t-path"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_gets_each_finding_retried_after_a_failure(
    planted: Planted, watch_rules: Path, tmp_path: Path
) -> None:
    # only the planted container's image and container: a state that has seen the rest
    server = _server()
    url = next(server)
    try:
        sender = WebhookSender(url, backoff=Backoff(base=0.0), limit=100)
        config = ScanConfig(rule_paths=(watch_rules,), jobs=1)
        config.enable = (RULE_ID,)
        units = UnitScanner(config, lambda r: r)
        state = WatchState(tmp_path / "w.sqlite")
        emitted: list[dict[str, Any]] = []

        def emit(record: dict[str, Any]) -> None:
            emitted.append(record)
            sender.send(record)

        summary = Watcher(DockerDaemon, units, state, emit, once=True).run()
        assert summary.errors == [] and emitted
        assert sender.flush(timeout=DEADLINE)
        sender.close()
    finally:
        next(server, None)
    assert _Receiver.statuses[0] == 503 and len(_Receiver.statuses) == len(emitted) + 1
    posted = [json.loads(b) for b in _Receiver.bodies]
    assert sorted(p["fingerprint"] for p in posted) == sorted(e["fingerprint"] for e in emitted)
    targets = {(p["target"]["kind"], p["target"]["name"]) for p in posted}
    assert {("image", planted.image), ("container", planted.container)} <= targets
    assert sender.delivered == len(emitted) and sender.failed == 0
    assert all("secret" not in p for p in posted)
