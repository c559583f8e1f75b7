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
from pathlib import Path

import pytest

from tests.hardening.helpers import aws_key_id, ghp_token, password, write_rules
from tests.sources.image.helpers import tar_bytes, tar_dir, write_oci_layout

pytestmark = pytest.mark.timeout(240)

FORMATS = ("table", "json", "jsonl", "sarif", "gitlab", "junit", "html")


def _files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


REPO = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "leakscan.cli", *args], env=env, cwd=cwd,
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("planted")
    secrets = {"tree": ghp_token(), "aws": aws_key_id(), "pw": password(),
               "image": ghp_token(), "image_env": ghp_token(), "git": ghp_token()}
    tree = root / "tree"
    tree.mkdir()
    (tree / ".env").write_text(f"GITHUB_TOKEN={secrets['tree']}\n"
                               f"AWS_ACCESS_KEY_ID={secrets['aws']}\n"
                               f"DB_PASSWORD={secrets['pw']}\n")
    layer = tar_bytes([("app", None), ("app/config.txt", f"t={secrets['image']}\n".encode())])
    layout = root / "layout"
    write_oci_layout(layout, [(layer, "gzip")],
                     config_extra={"config": {"Env": [f"TOKEN={secrets['image_env']}"]}})
    image = tar_dir(layout, root / "image.tar")
    repo = root / "repo"
    repo.mkdir()
    genv = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=genv)
    (repo / "deploy.sh").write_text(f"export TOKEN={secrets['git']}\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=genv)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "add"], check=True, env=genv)
    (repo / "deploy.sh").write_text("export TOKEN=$TOKEN\n")  # removed, still in history
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "rm"], check=True, env=genv)
    return {"root": root, "tree": tree, "image": image, "repo": repo, "secrets": secrets,
            "rules": write_rules(root / "rules")}


def _targets(p: dict[str, object]) -> list[list[str]]:
    return [["scan", "path", str(p["tree"])],
            ["scan", "image", f"oci-archive:{p['image']}"],
            ["scan", "git", str(p["repo"])]]


def test_no_secret_in_any_output_log_or_cache(planted: dict[str, object],
                                             tmp_path: Path) -> None:
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    cache, tmpdir, out = tmp_path / "cache", tmp_path / "tmp", tmp_path / "out"
    for d in (cache, tmpdir, out):
        d.mkdir()
    env = {**os.environ, "LEAKSCAN_CACHE_DIR": str(cache), "LEAKSCAN_LOGLEVEL": "DEBUG",
           "TMPDIR": str(tmpdir), "TMP": str(tmpdir), "TEMP": str(tmpdir)}
    from typer.testing import CliRunner

    from leakscan.cli import app

    seen = b""
    for i, target in enumerate(_targets(planted)):
        # every format, in process (fast), into report files and stdout
        for fmt in FORMATS:
            report = out / f"{i}.{fmt}"
            res = CliRunner().invoke(app, [*target, "--format", fmt, "--no-progress", "-v",
                                           "--rules", str(planted["rules"]),
                                           "--output", str(report)], catch_exceptions=False)
            assert res.exit_code == 1, (target, fmt, res.stderr[-2000:])
            blob = res.stdout_bytes + res.stderr_bytes + report.read_bytes()
            for name, secret in secrets.items():
                assert secret.encode() not in blob, f"{name} leaked in {target[1]} {fmt}"
            seen += blob
        # a real process with debug logging on stderr and the report on stdout
        proc = _run([*target, "--format", "jsonl", "--no-progress", "-vv",
                     "--rules", str(planted["rules"])], env, tmp_path)
        assert proc.returncode == 1, proc.stderr[-2000:]
        for name, secret in secrets.items():
            assert secret.encode() not in proc.stdout + proc.stderr, f"{name} leaked"
    for path, data in _files_under(cache).items():
        for name, secret in secrets.items():
            assert secret.encode() not in data, f"{name} leaked into {path}"
    assert not _files_under(tmpdir), f"temporary files written: {list(_files_under(tmpdir))}"
    assert b"findings" in seen or b"<" in seen  # the reports were really written


def test_show_secrets_does_show_them(planted: dict[str, object], tmp_path: Path) -> None:
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    env = {**os.environ, "LEAKSCAN_CACHE_DIR": str(tmp_path / "cache")}
    shown = b""
    for target in _targets(planted):
        proc = _run([*target, "--format", "json", "--no-progress", "--show-secrets",
                     "--rules", str(planted["rules"])], env, tmp_path)
        assert proc.returncode == 1, proc.stderr[-2000:]
        shown += proc.stdout
    for name in ("tree", "aws", "image", "image_env", "git"):
        assert secrets[name].encode() in shown, f"{name} not reported with --show-secrets"


def test_image_scan_writes_no_temporary_files(planted: dict[str, object],
                                             tmp_path: Path) -> None:
    """Image contents stay in memory: nothing under TMPDIR, nothing new under the test root."""
    tmpdir, work = tmp_path / "tmp", tmp_path / "work"
    tmpdir.mkdir()
    work.mkdir()
    before = set(Path(str(planted["root"])).rglob("*"))
    env = {**os.environ, "TMPDIR": str(tmpdir), "TMP": str(tmpdir), "TEMP": str(tmpdir),
           "LEAKSCAN_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(work)}
    proc = _run(["scan", "image", f"oci-archive:{planted['image']}", "--format", "json",
                 "--no-progress", "--rules", str(planted["rules"])], env, work)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert not list(tmpdir.rglob("*")), list(tmpdir.rglob("*"))
    secrets: dict[str, str] = planted["secrets"]  # type: ignore[assignment]
    for path, data in _files_under(work).items():
        assert secrets["image"].encode() not in data, path
        assert b"app/config.txt" not in data or path.suffix == ".json", path
    assert set(Path(str(planted["root"])).rglob("*")) == before
