"""One test image per session: built by a real dockerd, saved, copied to OCI by skopeo."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require
from tests.sources.image.helpers import token, write_rules


@pytest.fixture(scope="session")
def image_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("image-rules"))


def _docker(*args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["docker", *args], input=input, capture_output=True)
    if proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed: {proc.stderr.decode()[-2000:]}")
    return proc.stdout


def rootfs_tar() -> bytes:
    """A tiny root filesystem: a static busybox and the applets the Dockerfile uses."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "app"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", arcname="bin/busybox")
        for applet in ("sh", "rm", "mkdir", "echo", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buf.getvalue()


@dataclass
class BuiltImage:
    name: str  # app:1 in the daemon
    archive: Path  # docker save (classic layout on docker 20.10)
    oci_dir: Path  # skopeo copy to oci:DIR:v1
    oci_archive: Path  # skopeo copy to oci-archive:PATH:v1
    secrets: dict[str, str] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)  # what -> layer index


DOCKERFILE = """\
FROM leakscan-test-base:1
COPY env /app/.env
COPY secret.txt /app/secret.txt
COPY config.ini /app/config.ini
COPY site/ /usr/lib/python3/site-packages/
COPY nm/ /app/node_modules/
ENV DB_PASSWORD={env_secret}
LABEL api.key="{label_secret}"
RUN rm /app/secret.txt
COPY config2.ini /app/config.ini
ARG NPM_TOKEN
RUN echo built > /tmp/built
"""


@pytest.fixture(scope="session")
def built_image(dockerd: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    require(shutil.which("skopeo") is not None, "skopeo is not installed")
    require(os.path.exists("/bin/busybox"), "busybox-static is not installed")
    work = tmp_path_factory.mktemp("image")
    secrets = {
        k: token()
        for k in (
            "present",
            "deleted",
            "overwritten",
            "site",
            "node",
            "env",
            "label",
            "buildarg",
            "container",
        )
    }
    _docker("import", "-", "leakscan-test-base:1", input=rootfs_tar())
    ctx = work / "ctx"
    (ctx / "site" / "x").mkdir(parents=True)
    (ctx / "site" / "x-1.0.dist-info").mkdir()
    (ctx / "nm" / "y").mkdir(parents=True)
    (ctx / "env").write_text(f"GITHUB_TOKEN={secrets['present']}\n")
    (ctx / "secret.txt").write_text(f"token: {secrets['deleted']}\n")
    (ctx / "config.ini").write_text(f"[gh]\ntoken = {secrets['overwritten']}\n")
    (ctx / "config2.ini").write_text("[gh]\ntoken = from-the-environment\n")
    creds = f"TOKEN = '{secrets['site']}'\n".encode()
    (ctx / "site" / "x" / "creds.py").write_bytes(creds)
    digest = base64.urlsafe_b64encode(hashlib.sha256(creds).digest()).rstrip(b"=").decode()
    (ctx / "site" / "x-1.0.dist-info" / "RECORD").write_text(
        f"x/creds.py,sha256={digest},{len(creds)}\nx-1.0.dist-info/RECORD,,\n"
    )
    (ctx / "nm" / "y" / "index.js").write_text(f"module.exports = '{secrets['node']}'\n")
    (ctx / "Dockerfile").write_text(
        DOCKERFILE.format(env_secret=secrets["env"], label_secret=secrets["label"])
    )
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"NPM_TOKEN={secrets['buildarg']}",
            "-t",
            "leakscan-test-app:1",
            "-t",
            "leakscan-test-app:2",
            str(ctx),
        ],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    archive = work / "app.tar"
    _docker("save", "-o", str(archive), "leakscan-test-app:1")
    oci_dir = work / "oci"
    oci_archive = work / "app-oci.tar"
    for dest in (f"oci:{oci_dir}:v1", f"oci-archive:{oci_archive}:v1"):
        proc = subprocess.run(
            ["skopeo", "copy", "-q", f"docker-archive:{archive}", dest], capture_output=True
        )
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    _docker(
        "create",
        "--name",
        "leakscan-test-c1",
        "-e",
        f"API_TOKEN={secrets['container']}",
        "leakscan-test-base:1",
        "/bin/sh",
    )
    return BuiltImage(
        name="leakscan-test-app:1",
        archive=archive,
        oci_dir=oci_dir,
        oci_archive=oci_archive,
        secrets=secrets,
        layers={
            "present": 1,
            "deleted": 2,
            "overwritten": 3,
            "site": 4,
            "node": 5,
            "rm": 6,
            "config2": 7,
            "echo": 8,
        },
    )
