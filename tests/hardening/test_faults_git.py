"""A git process that dies: ``git cat-file --batch`` killed mid-stream.

A ``git`` shim first on PATH delegates to the real git, but for ``cat-file --batch`` it passes
through the first N bytes of the answers and then kills git and exits 1. ``leakscan scan git``
must report a clear error (exit 2, no traceback) and keep the findings made before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardening.helpers import ghp_token, write_rules

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]

SHIM = """#!{python}
import os, subprocess, sys
REAL = {real!r}
args = sys.argv[1:]
if "--batch" not in args:
    os.execv(REAL, [REAL, *args])
limit = int(os.environ.get("FAULT_GIT_BYTES", "0"))
proc = subprocess.Popen([REAL, *args], stdout=subprocess.PIPE)
out = sys.stdout.buffer
sent = 0
while sent < limit:
    chunk = os.read(proc.stdout.fileno(), min(65536, limit - sent))
    if not chunk:
        break
    out.write(chunk)
    out.flush()
    sent += len(chunk)
proc.kill()
proc.wait()
sys.stderr.write("fatal: simulated crash of git cat-file\\n")
sys.exit(1)
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    real = shutil.which("git")
    assert real is not None
    root = tmp_path_factory.mktemp("gitfault")
    work = root / "repo"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    subprocess.run([real, "init", "-q", str(work)], check=True, env=env)
    secrets = []
    for i in range(30):  # one commit each, so blobs are read in several batches' worth
        secret = ghp_token()
        secrets.append(secret)
        (work / f"f{i:02}.txt").write_text(f"token = {secret}\n" + "filler line\n" * 300)
        subprocess.run([real, "-C", str(work), "add", "."], check=True, env=env)
        subprocess.run([real, "-C", str(work), "commit", "-qm", f"c{i}"], check=True, env=env)
    shim_dir = root / "bin"
    shim_dir.mkdir()
    shim = shim_dir / "git"
    shim.write_text(SHIM.format(python=sys.executable, real=real))
    shim.chmod(0o755)
    return {"work": work, "secrets": secrets, "bin": shim_dir, "rules": write_rules(root / "rules")}


def _scan(repo: dict[str, object], limit: int | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if limit is not None:
        env["PATH"] = f"{repo['bin']}{os.pathsep}{env['PATH']}"
        env["FAULT_GIT_BYTES"] = str(limit)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "scan",
            "git",
            str(repo["work"]),
            "--format",
            "json",
            "--no-progress",
            "--show-secrets",
            "--rules",
            str(repo["rules"]),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_git_cat_file_dies_mid_stream(repo: dict[str, object]) -> None:
    whole = _scan(repo, None)
    assert whole.returncode == 1, whole.stderr[-2000:]
    all_found = {f["secret"] for f in json.loads(whole.stdout)["findings"]}
    assert all_found == set(repo["secrets"])  # type: ignore[arg-type]
    proc = _scan(repo, 60_000)  # commits and trees fit; blobs stop about half way
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("leakscan: error:")]
    assert len(errors) == 1 and "git" in errors[0], proc.stderr
    assert not errors[0].startswith("leakscan: error: unexpected "), errors
    found = {f["secret"] for f in json.loads(proc.stdout)["findings"]}
    assert found and found < all_found, (len(found), len(all_found))
