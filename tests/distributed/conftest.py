"""A real Dask cluster (scheduler + two workers on loopback) and a real registry with Basic
auth holding images that share base layers."""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.audit.conftest import _vendor_layer
from tests.conftest import require
from tests.helpers import github_token, password, write_rules
from tests.plugins.registry import (
    Registry,
    _start,
    api_push,
    build_oci,
    make_image,
    skopeo_push,
)
from tests.support.oci import stop_registry

pytestmark = pytest.mark.registry

HAVE_DASK = importlib.util.find_spec("distributed") is not None


@dataclass
class DistWorld:
    reg: Registry
    rules: Path
    user: str
    password: str
    secrets: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="package")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    require(HAVE_DASK, "dask[distributed] is not installed (pip install '.[dask]')")
    from tests.distributed.cluster import running_cluster

    with running_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster


@pytest.fixture(scope="package")
def dist_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistWorld]:
    """d/app (2 tags, one digest), d/web:0..3 on one base, d/other:0..1 on another."""
    require(shutil.which("htpasswd") is not None, "htpasswd (apache2-utils) is not installed")
    tmp = tmp_path_factory.mktemp("dist-world")
    user, pw = "auditor", "Pw-" + secrets.token_urlsafe(18)
    line = subprocess.run(["htpasswd", "-Bbn", user, pw], capture_output=True, check=True).stdout
    (tmp / "htpasswd").write_bytes(line.strip() + b"\n")
    reg = _start(tmp, "dist", tmp / "htpasswd")
    reg.creds = (user, pw)
    s = {f"t{i}": github_token() for i in range(12)}
    s["password"] = password()
    base = {**_vendor_layer(s["t0"]), "etc/base.conf": f"token: {s['t1']}\n".encode()}
    base2 = {"etc/os-release": b"ID=other\n", "etc/b2.conf": f"key={s['t2']}\n".encode()}
    app = make_image(
        [
            base,
            {
                "app/a.env": f"ALLOWED={s['t3']}  # leakscan:allow\nPLAIN={s['t4']}\n".encode(),
                "app/.env": f"GITHUB_TOKEN={s['t5']}\n".encode(),
                "app/config.ini": f"password = {s['password']}\n".encode(),
            },
            {"app/.env": None},
        ],
        env=[f"GH={s['t6']}", "PATH=/bin"],
    )
    try:
        skopeo_push(build_oci(tmp / "app-oci", app, "v1"), "v1", reg, "d/app")
        api_push(reg, "d/app", "alias", app)
        for i in range(4):
            web = make_image([base, {f"srv/web{i}.conf": f"t={s[f't{7 + i % 3}']}\n".encode()}])
            api_push(reg, "d/web", str(i), web)
        for i in range(2):
            other = make_image([base2, {f"opt/x{i}.txt": f"tok {s['t10']} {i}\n".encode()}])
            api_push(reg, "d/other", str(i), other)
        yield DistWorld(reg, write_rules(tmp / "rules"), user, pw, s)
    finally:
        stop_registry(reg.proc)
