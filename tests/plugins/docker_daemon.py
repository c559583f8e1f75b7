"""A private Docker daemon for the test session (vfs storage, no networking, own socket).

``dockerd`` fixture: starts ``dockerd`` once, waits for it, sets ``DOCKER_HOST`` for the
session and stops it by pid at the end. Skips on a developer machine without dockerd or
root; fails under ``CI=true`` (see ``tests.conftest.require``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from bench.dockerd import DaemonError, private_dockerd
from tests.conftest import require


@pytest.fixture(scope="session")
def dockerd() -> Iterator[str]:
    """The DOCKER_HOST of a running private dockerd."""
    require(shutil.which("dockerd") is not None, "dockerd is not installed (apt docker.io)")
    require(shutil.which("docker") is not None, "the docker CLI is not installed")
    require(os.geteuid() == 0, "dockerd needs root")
    old = os.environ.get("DOCKER_HOST")
    try:
        with private_dockerd() as host:
            os.environ["DOCKER_HOST"] = host
            yield host
    except DaemonError as exc:
        pytest.fail(str(exc))
    finally:
        if old is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old
