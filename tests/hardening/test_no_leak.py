"""The scanner does not leak what it finds, and writes no temporary files with image contents.

Planted secrets (a file tree, an OCI image archive, a git repository, an audit of a real
registry when one is available) are scanned in every output format with debug logging and a
private Hyperscan cache dir; none of them may appear in clear in stdout, stderr, report files,
the cache or the audit state database unless ``--show-secrets`` is given (and then they must,
so the test can fail). TMPDIR points at an empty directory that must stay empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.helpers import aws_key_id, ghp_token, password, write_rules
from tests.sources.image.helpers import tar_bytes, tar_dir, write_oci_layout
from tests.support.rules_cache import seeded_cache

pytestmark = pytest.mark.timeout(240)

FORMATS = ("table", "json", "jsonl", "sarif", "gitlab", "junit", "html")


def _files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "leakscan.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("planted")
    secrets = {
        "tree": ghp_token(),
        "aws": aws_key_id(),
        "pw": password(),
        "image": ghp_token(),
        "image_env": ghp_token(),
        "git": ghp_token(),
    }
    tree = root / "tree"
    tree.mkdir()
    (tree / ".env").write_text(
        f"GITHUB_TOKEN={secrets['tree']}\n"
        f"AWS_ACCESS_KEY_ID={secrets['aws']}\n"
        f"DB_PASSWORD={secrets['pw']}\n"
    )
    layer = tar_bytes([("app", None), ("app/config.txt", f"t={secrets['image']}\n".encode())])
    layout = root / "layout"
    write_oci_layout(
        layout,
        [(layer, "gzip")],
        config_extra={"config": {"Env": [f"TOKEN={secrets['image_env']}"]}},
    )
    image = tar_dir(layout, root / "image.tar")
    repo = root / "repo"
    repo.mkdir()
    genv = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=genv)
    (repo / "deploy.sh").write_text(f"export TOKEN={secrets['git']}\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=genv)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "add"], check=True, env=genv)
    (repo / "deploy.sh").write_text("export TOKEN=$TOKEN\n")  # removed, still in history
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "rm"], check=True, env=genv)
    return {
        "root": root,
        "tree": tree,
        "image": image,
        "repo": repo,
        "secrets": secrets,
        "rules": write_rules(root / "rules"),
    }


def _targets(p: dict[str, object]) -> list[list[str]]:
    return [
        ["scan", "path", str(p["tree"])],
        ["scan", "image", f"oci-archive:{p['image']}"],
        ["scan", "git", str(p["repo"])],
    ]


def test_no_secret_in_any_output_log_or_cache(planted: dict[str, object], tmp_path: Path) -> None:
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    cache, tmpdir, out = tmp_path / "cache", tmp_path / "tmp", tmp_path / "out"
    for d in (tmpdir, out):
        d.mkdir()
    seeded_cache(cache, Path(str(planted["rules"])))  # only what a scan writes is checked
    env = {
        **os.environ,
        "LEAKSCAN_CACHE_DIR": str(cache),
        "LEAKSCAN_LOGLEVEL": "DEBUG",
        "TMPDIR": str(tmpdir),
        "TMP": str(tmpdir),
        "TEMP": str(tmpdir),
    }
    from typer.testing import CliRunner

    from leakscan.cli import app

    seen = b""
    debug_log = b""
    for i, target in enumerate(_targets(planted)):
        # every format, in process (fast), into report files and stdout
        for fmt in FORMATS:
            report = out / f"{i}.{fmt}"
            res = CliRunner().invoke(
                app,
                [
                    *target,
                    "--format",
                    fmt,
                    "--no-progress",
                    "-v",
                    "--rules",
                    str(planted["rules"]),
                    "--output",
                    str(report),
                ],
                catch_exceptions=False,
            )
            assert res.exit_code == 1, (target, fmt, res.stderr[-2000:])
            blob = res.stdout_bytes + res.stderr_bytes + report.read_bytes()
            for name, secret in secrets.items():
                assert secret.encode() not in blob, f"{name} leaked in {target[1]} {fmt}"
            seen += blob
        # a real process with debug logging on stderr and the report on stdout
        proc = _run(
            [
                *target,
                "--format",
                "jsonl",
                "--no-progress",
                "-vv",
                "--rules",
                str(planted["rules"]),
            ],
            env,
            tmp_path,
        )
        assert proc.returncode == 1, proc.stderr[-2000:]
        debug_log += proc.stderr
        for name, secret in secrets.items():
            assert secret.encode() not in proc.stdout + proc.stderr, f"{name} leaked"
    # the debug log was really on (the git walk logs at DEBUG), so the checks above can fail
    assert b"leakscan: DEBUG:" in debug_log, debug_log[-2000:]
    for path, data in _files_under(cache).items():
        for name, secret in secrets.items():
            assert secret.encode() not in data, f"{name} leaked into {path}"
    assert not _files_under(tmpdir), f"temporary files written: {list(_files_under(tmpdir))}"
    assert b"findings" in seen or b"<" in seen  # the reports were really written


def test_show_secrets_does_show_them(planted: dict[str, object], tmp_path: Path) -> None:
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    env = {
        **os.environ,
        "LEAKSCAN_CACHE_DIR": str(seeded_cache(tmp_path / "cache", Path(str(planted["rules"])))),
    }
    shown = b""
    for target in _targets(planted):
        proc = _run(
            [
                *target,
                "--format",
                "json",
                "--no-progress",
                "--show-secrets",
                "--rules",
                str(planted["rules"]),
            ],
            env,
            tmp_path,
        )
        assert proc.returncode == 1, proc.stderr[-2000:]
        shown += proc.stdout
    for name in ("tree", "aws", "image", "image_env", "git"):
        assert secrets[name].encode() in shown, f"{name} not reported with --show-secrets"


def test_image_scan_writes_no_temporary_files(planted: dict[str, object], tmp_path: Path) -> None:
    """Image contents stay in memory: nothing under TMPDIR, nothing new under the test root."""
    tmpdir, work = tmp_path / "tmp", tmp_path / "work"
    tmpdir.mkdir()
    work.mkdir()
    before = set(Path(str(planted["root"])).rglob("*"))
    env = {
        **os.environ,
        "TMPDIR": str(tmpdir),
        "TMP": str(tmpdir),
        "TEMP": str(tmpdir),
        "LEAKSCAN_CACHE_DIR": str(seeded_cache(tmp_path / "cache", Path(str(planted["rules"])))),
        "HOME": str(work),
    }
    proc = _run(
        [
            "scan",
            "image",
            f"oci-archive:{planted['image']}",
            "--format",
            "json",
            "--no-progress",
            "--rules",
            str(planted["rules"]),
        ],
        env,
        work,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert not list(tmpdir.rglob("*")), list(tmpdir.rglob("*"))
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    for path, data in _files_under(work).items():
        assert secrets["image"].encode() not in data, path
        assert b"app/config.txt" not in data or path.suffix == ".json", path
    assert set(Path(str(planted["root"])).rglob("*")) == before


# -- a real registry: debug logging through faults, and the audit state database -----------


@pytest.fixture(scope="module")
def leak_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from tests.plugins.registry import _start, api_push, make_image

    tmp = tmp_path_factory.mktemp("leak-registry")
    reg = _start(tmp, "leak")
    secrets = {"layer": ghp_token(), "aws": aws_key_id(), "env": ghp_token()}
    image = make_image(
        [
            {
                "app/noise.bin": os.urandom(128 * 1024),
                "app/.env": (
                    f"GITHUB_TOKEN={secrets['layer']}\nAWS_ACCESS_KEY_ID={secrets['aws']}\n"
                ).encode(),
            }
        ],
        env=[f"TOKEN={secrets['env']}", "PATH=/usr/bin"],
    )
    api_push(reg, "leak/app", "1", image)
    yield {
        "reg": reg,
        "secrets": secrets,
        "layer": image.layer_digests[0],
        "rules": write_rules(tmp / "rules"),
    }
    reg.proc.terminate()
    reg.proc.wait(10)


def test_no_secret_in_debug_log_through_faults_or_audit_state(
    leak_registry: dict[str, Any], tmp_path: Path
) -> None:
    """-vv and LEAKSCAN_LOGLEVEL=DEBUG while the registry drops and fails requests (retry and
    resume are logged), then an audit: neither the log nor the SQLite state (and its -wal and
    -shm files) holds a planted secret."""
    from tests.hardening.faultproxy import Fault, FaultProxy

    reg = leak_registry["reg"]
    host, port = reg.host.rsplit(":", 1)
    secrets: dict[str, str] = leak_registry["secrets"]
    env = {
        **os.environ,
        "LEAKSCAN_LOGLEVEL": "DEBUG",
        "LEAKSCAN_CACHE_DIR": str(seeded_cache(tmp_path / "c", leak_registry["rules"])),
        "LEAKSCAN_REGISTRY_TIMEOUT": "5",
    }
    state = tmp_path / "state" / "audit.sqlite"
    common = ["--format", "json", "--no-progress", "-vv", "--rules", str(leak_registry["rules"])]
    with FaultProxy(
        (host, int(port)),
        [Fault("cut", leak_registry["layer"], arg=30_000), Fault("status", "/manifests/", arg=500)],
    ) as proxy:
        scan = _run(["scan", "image", f"{proxy.host}/leak/app:1", *common], env, tmp_path)
        proxy.faults[:] = [
            Fault("cut", leak_registry["layer"], arg=30_000),
            Fault("status", "/v2/_catalog", arg=503),
        ]
        audit = _run(
            ["audit", proxy.host, "--insecure", "--state", str(state), *common], env, tmp_path
        )
    for proc in (scan, audit):
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert b"leakscan: DEBUG:" in proc.stderr, proc.stderr[-2000:]
        assert b"retry" in proc.stderr and b"resuming" in proc.stderr, proc.stderr[-2000:]
        assert b'"fingerprint"' in proc.stdout  # findings were made
    stored = {p: p.read_bytes() for p in state.parent.iterdir() if p.is_file()}
    assert state in stored and len(stored[state]) > 0
    blob = scan.stdout + scan.stderr + audit.stdout + audit.stderr
    for name, secret in secrets.items():
        assert secret.encode() not in blob, f"{name} leaked in the output or debug log"
        for path, data in stored.items():
            assert secret.encode() not in data, f"{name} leaked into {path.name}"
