"""Watch mode latency: `docker load` to the emitted finding, and an event whose layers are cached.

A private dockerd (vfs, own socket) runs `leakscan watch`; two small images are loaded:
  1. a new image with a token in a layer file: load -> finding is the whole path (event,
     `docker save` of the image, layer scan, emit);
  2. an image on the same layer whose config carries another token: every layer is cached,
     so the time after `docker load` returns is the cost of such an event.
Needs root, dockerd and the docker CLI; skipped otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench.diff_generate import crc_token
from bench.dockerd import DaemonError, private_dockerd

WAIT = 120.0  # seconds before a finding counts as missed


def _token(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    return crc_token("ghp_", "".join(rng.choice(alphabet) for _ in range(30)))


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_archive(path: Path, tag: str, layer: bytes, env: list[str]) -> None:
    """A one-layer docker-archive (`docker save` layout) that `docker load` accepts."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": env, "Cmd": ["/app/run"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "COPY app /app"}],
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["l/layer.tar"]}])
    path.write_bytes(
        _tar_bytes({config_name: config, "l/layer.tar": layer, "manifest.json": manifest.encode()})
    )


def _wait_for(output: Path, secret: str, since: float) -> float | None:
    """Seconds from ``since`` until a line carrying ``secret`` is in ``output``."""
    while time.monotonic() - since < WAIT:
        if output.exists() and secret in output.read_text(errors="replace"):
            return time.monotonic() - since
        time.sleep(0.01)
    return None


def _load(host: str, archive: Path) -> float:
    start = time.monotonic()
    subprocess.run(
        ["docker", "-H", host, "load", "-q", "-i", str(archive)], check=True, capture_output=True
    )
    return start


def run() -> dict[str, float]:
    if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("docker"):
        print("watch: skipped (needs root, dockerd and the docker CLI)", flush=True)
        return {}
    rng = random.Random(15)
    first, second = _token(rng), _token(rng)
    filler = "".join(rng.choice(string.ascii_letters + " \n") for _ in range(2_000_000))
    layer = _tar_bytes(
        {
            "app/settings.py": f'GITHUB_TOKEN = "{first}"\n'.encode(),
            "app/data.txt": filler.encode(),
        }
    )
    work = Path(tempfile.mkdtemp(prefix="lsw"))
    out: dict[str, float] = {}
    try:
        image_archive(work / "a.tar", "bench/watch-a:1", layer, ["PATH=/usr/bin"])
        image_archive(work / "b.tar", "bench/watch-b:1", layer, [f"GITHUB_TOKEN={second}"])
        with private_dockerd() as host:
            output = work / "findings.jsonl"
            env = {**os.environ, "DOCKER_HOST": host, "LEAKSCAN_CACHE_DIR": str(work / "cache")}
            # the rules database is compiled once per cache dir: not part of an event's cost
            (work / "empty.txt").write_text("nothing here\n")
            subprocess.run(
                [sys.executable, "-m", "leakscan.cli", "scan", str(work / "empty.txt")],
                env=env,
                capture_output=True,
            )
            watch = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "leakscan.cli",
                    "watch",
                    "--state",
                    str(work / "w.db"),
                    "--output",
                    str(output),
                    "--show-secrets",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(3.0)  # backfill of an empty daemon, then following events
                start = _load(host, work / "a.tar")
                loaded = time.monotonic() - start
                new = _wait_for(output, first, start)
                start_b = _load(host, work / "b.tar")
                returned = time.monotonic()
                cached = _wait_for(output, second, returned)
            finally:
                watch.terminate()
                watch.wait(timeout=30)
    except DaemonError as exc:
        print(f"watch: skipped ({str(exc).splitlines()[0]})", flush=True)
        return {}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if new is None or cached is None:
        print("watch: a planted finding was not emitted within the wait", flush=True)
        return {}
    print(
        f"watch: new image, docker load -> finding {new:.2f}s (docker load itself {loaded:.2f}s)",
        flush=True,
    )
    print(
        f"watch: image on cached layers, load returned -> finding {cached * 1000:.0f} ms "
        f"(load -> finding {returned - start_b + cached:.2f}s)",
        flush=True,
    )
    out["watch_new_image_s"] = new
    out["watch_cached_event_ms"] = cached * 1000
    return out
