"""Images and containers planted in the tests' private dockerd for the watch tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require
from tests.sources.image.conftest import rootfs_tar
from tests.sources.image.helpers import token, write_rules


def docker(*args: str, input: bytes | None = None, legacy: bool = False) -> str:
    """Run the docker CLI (``legacy``: the classic builder, as the image tests build)."""
    env = dict(os.environ, DOCKER_BUILDKIT="0") if legacy else None
    proc = subprocess.run(["docker", *args], input=input, capture_output=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed: {proc.stderr.decode()[-2000:]}")
    return proc.stdout.decode().strip()


def rootfs(files: dict[str, str]) -> bytes:
    """A one-layer root filesystem of text files (no binaries: nothing here runs)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Planted:
    image: str  # name:tag in the daemon
    layer_secret: str  # in app/.env of its one layer
    image_env_secret: str  # ENV of the image (inherited by its containers)
    container: str  # a container created from it
    container_secret: str  # -e API_TOKEN=... at create time
    label_secret: str  # --label deploy.token=... at create time


def plant(name: str, container: str) -> Planted:
    """An image (``docker import``, with an ENV and a label) and a container created from it."""
    layer, env, own, label = token(), token(), token(), token()
    docker(
        "import",
        "--change",
        f"ENV IMAGE_TOKEN={env}",
        "--change",
        f"LABEL image.token={env}",
        "-",
        name,
        input=rootfs({"app/.env": f"GITHUB_TOKEN={layer}\n"}),
    )
    docker(
        "create",
        "--name",
        container,
        "-e",
        f"API_TOKEN={own}",
        "--label",
        f"deploy.token={label}",
        name,
        "/bin/sh",
    )
    return Planted(name, layer, env, container, own, label)


@pytest.fixture(scope="session")
def watch_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("watch-rules"))


@pytest.fixture(scope="session")
def planted(dockerd: str) -> Planted:
    return plant("leakscan-watch-a:1", "leakscan-watch-c1")


def build_context(ctx: Path) -> Path:
    """A Dockerfile whose RUN step sees a build argument (so the history records it), on a
    busybox base imported once."""
    require(shutil.which("busybox") is not None or os.path.exists("/bin/busybox"), "busybox")
    if not docker("images", "-q", "leakscan-watch-busybox:1"):
        docker("import", "-", "leakscan-watch-busybox:1", input=rootfs_tar())
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(
        "FROM leakscan-watch-busybox:1\nARG NPM_TOKEN\nRUN echo built > /tmp/built\n"
    )
    return ctx
