"""`leakscan scan image docker-archive:…` beside `kingfisher scan docker --archive` on the same
`docker save` archives (classic layout), built without a daemon:

- the *full* image (~1 GB, as issue 20 asks): a Debian base layer made by ``debootstrap``, a
  layer of real site-packages installed from pinned wheels (PyPI), an npm tree from the npm
  registry, and an application layer with planted secrets, one deleted and one overwritten by
  later layers. Built once, cached under bench/work/image/; when the network (or debootstrap)
  is not there, the bench says so and measures only
- the *python* image (~490 MB): a copy of this machine's Python installation (standard library
  and site-packages, capped at ~400 MB) with the same planted secrets.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
import sysconfig
import tarfile
import time
import zlib
from pathlib import Path

from bench.common import WORK, Run, run_line, timed, tool

CAP_BYTES = 400 * 1024 * 1024
LAYERS = 3  # the Python installation split into this many layers
ARCHIVE = WORK / "image" / "python-image.tar"
FULL_ARCHIVE = WORK / "image" / "full-image.tar"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: pinned wheels for Python 3.11 on x86_64 (installed: ~650 MB of site-packages)
WHEELS = (
    "numpy==1.26.4", "scipy==1.13.1", "pandas==2.2.2",
    "scikit-learn==1.5.0", "matplotlib==3.9.0", "botocore==1.34.131", "boto3==1.34.131",
    "sympy==1.12.1", "pillow==10.3.0", "lxml==5.2.2",
    "cryptography==42.0.8", "grpcio==1.64.1", "networkx==3.3", "babel==2.15.0",
    "transformers==4.41.2", "requests==2.32.3", "urllib3==2.2.1", "pyyaml==6.0.1",
)  # fmt: skip
#: pinned npm packages (installed: ~100 MB of node_modules)
NPM = ("aws-sdk@2.1640.0", "typescript@5.4.5", "lodash@4.17.21", "express@4.19.2")
SITE = "usr/local/lib/python3.11/site-packages"


def _base62(value: int, width: int) -> str:
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    out = ""
    while value:
        value, r = divmod(value, 62)
        out = alphabet[r] + out
    return out.rjust(width, "0")[-width:]


def _secrets(rng: random.Random) -> dict[str, str]:
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    aws = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    return {
        "github": "ghp_" + body + _base62(zlib.crc32(body.encode()), 6),
        "aws": aws,
        "password": "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(14)),
    }


def _python_files(cap: int) -> list[tuple[Path, str]]:
    """(file, name in the image) of the Python installation, sorted, up to ``cap`` bytes."""
    root = Path(sysconfig.get_paths()["stdlib"])
    prefix = "usr/local/lib/" + root.name
    out: list[tuple[Path, str]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if total + size > cap:
                return out
            total += size
            out.append((path, f"{prefix}/{path.relative_to(root).as_posix()}"))
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    if data is None:  # a whiteout
        head, _, base = name.rpartition("/")
        name, data = f"{head}/.wh.{base}", b""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def _tree(root: Path, prefix: str) -> list[tuple[Path, str]]:
    """(entry, name in the image) of every entry under ``root`` (sorted, links not followed),
    as a layer made by ``docker build`` lists them: each directory before what it holds."""
    out: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root).as_posix()
        base = prefix if rel == "." else f"{prefix}/{rel}".lstrip("/")
        if base:
            out.append((Path(dirpath), base))
        names = sorted(filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()])
        out.extend((Path(dirpath) / n, f"{base}/{n}".lstrip("/")) for n in names)
    return out


def _write_layer(
    path: Path,
    files: list[tuple[Path, str]] | None = None,
    planted: dict[str, bytes | None] | None = None,
) -> str:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for source, name in files or ():
            tar.add(source, arcname=name, recursive=False)
        for name, data in (planted or {}).items():
            _add_bytes(tar, name, data)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


Spec = tuple[str, list[tuple[Path, str]] | None, dict[str, bytes | None] | None]


def build_archive(target: Path = ARCHIVE) -> tuple[Path, dict[str, str]]:
    """The python image (cached) and the secrets planted in it."""
    secrets_file = target.with_suffix(".secrets.json")
    if target.exists() and secrets_file.exists():
        return target, json.loads(secrets_file.read_text())
    files = _python_files(CAP_BYTES)
    per = -(-len(files) // LAYERS)
    chunks = [files[i : i + per] for i in range(0, len(files), per)]
    specs: list[Spec] = [
        (f"COPY python{i} /usr/local/lib/", chunk, None) for i, chunk in enumerate(chunks)
    ]
    return _archive(target, specs, "bench/python:1")


def _run(cmd: list[str], log: Path, **kwargs: object) -> None:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=True, **kwargs)  # type: ignore[call-overload]


def build_full_archive(target: Path = FULL_ARCHIVE) -> tuple[Path, dict[str, str]]:
    """The ~1 GB image (cached): a Debian base, pinned wheels, an npm tree, the app layers.

    Raises OSError or CalledProcessError when a part cannot be fetched (no network)."""
    secrets_file = target.with_suffix(".secrets.json")
    if target.exists() and secrets_file.exists():
        return target, json.loads(secrets_file.read_text())
    parts = target.parent / "full-parts"
    parts.mkdir(parents=True, exist_ok=True)
    log = parts / "build.log"
    rootfs, site, npm = parts / "rootfs", parts / "site-packages", parts / "npm"
    if not (parts / "rootfs.done").exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        _run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), MIRROR], log)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):  # as docker images do
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        (parts / "rootfs.done").touch()
    if not (parts / "site.done").exists():
        shutil.rmtree(site, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        pip += ["--no-deps", "--only-binary=:all:", "--target", str(site), *WHEELS]
        _run(pip, log)
        (parts / "site.done").touch()
    if not (parts / "npm.done").exists():
        shutil.rmtree(npm, ignore_errors=True)
        npm.mkdir()
        (npm / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *NPM]
        _run(cmd, log, cwd=npm)
        (parts / "npm.done").touch()
    specs: list[Spec] = [
        (f"/bin/sh -c #(nop) ADD file:debootstrap-{SUITE} in / ", _tree(rootfs, ""), None),
        (f"RUN pip install {' '.join(WHEELS)}", _tree(site, SITE), None),
        ("RUN npm install", _tree(npm / "node_modules", "app/node_modules"), None),
    ]
    return _archive(target, specs, "bench/full:1")


def _archive(target: Path, specs: list[Spec], tag: str) -> tuple[Path, dict[str, str]]:
    """A docker save archive of ``specs`` plus the app layers (secrets planted), written once."""
    secrets_file = target.with_suffix(".secrets.json")
    secrets = _secrets(random.Random(1234))
    tmp = target.parent / "build.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = f"GITHUB_TOKEN={secrets['github']}\nAWS_ACCESS_KEY_ID={secrets['aws']}\n".encode()
    conf = f'[db]\npassword = "{secrets["password"]}"\n'.encode()
    specs = list(specs)
    specs += [
        (
            "COPY app /app",
            None,
            {"app/.env": env, "app/config.ini": conf, "app/main.py": b"print('hello')\n"},
        ),
        ("RUN rm /app/.env", None, {"app/.env": None}),
        ("COPY config.ini /app/config.ini", None, {"app/config.ini": b"[db]\nhost = db\n"}),
    ]
    layer_names, diff_ids, history = [], [], []
    for i, (created_by, chunk, planted) in enumerate(specs):
        layer_dir = tmp / f"layer{i:02d}"
        layer_dir.mkdir()
        diff_ids.append(_write_layer(layer_dir / "layer.tar", chunk, planted))
        layer_names.append(f"layer{i:02d}/layer.tar")
        history.append({"created": "2024-01-01T00:00:00Z", "created_by": created_by})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["python3"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    (tmp / config_name).write_bytes(config)
    (tmp / "manifest.json").write_text(
        json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}])
    )
    partial = target.with_suffix(".tar.tmp")
    with tarfile.open(partial, "w") as outer:
        for name in ["manifest.json", config_name, *layer_names]:
            outer.add(tmp / name, arcname=name, recursive=False)
    shutil.rmtree(tmp)
    partial.rename(target)
    secrets_file.write_text(json.dumps(secrets))
    return target, secrets


def _children() -> set[int]:
    """This process's child processes (Linux: empty elsewhere)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").glob("*"):
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def _tree_timed(cmd: list[str], env: dict[str, str]) -> Run:
    """``timed``, with the CPU time of the whole process tree: worker processes are children
    of a forkserver that nobody waits for, so their time is not in the child's usage. This
    process becomes their subreaper (Linux) and reaps them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        subreaper = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        subreaper = False
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = _children()  # a server this process runs (the registry bench's) is not waited for
    run = timed(cmd, env=env)
    if subreaper:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if _children() <= ours:
                    break
                time.sleep(0.01)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run.cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run


def _leakscan(archive: Path, cache: Path, jobs: int = 0) -> Run:
    """A first scan (an empty content cache, filled as a first scan fills it)."""
    cache.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "leakscan.cli", "scan", "image", f"docker-archive:{archive}"]
    cmd += ["--no-progress", "-f", "json", "-o", os.devnull]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    return _tree_timed(cmd, env={"LEAKSCAN_CONTENT_CACHE": str(cache)})


def _kingfisher(archive: Path) -> Run | None:
    kingfisher = tool("kingfisher")
    if not kingfisher:
        return None
    # --no-limits: with its default content limits Kingfisher stops extracting an archive
    # part-way and fails ("layer01/layer.tar was not found"); leakscan reads it all
    cmd = [kingfisher, "scan", "docker", "--archive", str(archive), "--no-validate"]
    cmd += ["--no-limits", "--format", "json", "--no-update-check", "-o", os.devnull]
    return timed(cmd)


def _measure(label: str, archive: Path, out: dict[str, float]) -> None:
    size = archive.stat().st_size / 1e6
    ours = _leakscan(archive, WORK / "image" / "content-cache.sqlite")
    print(run_line(f"image {label} ({size:.0f} MB)", "leakscan", ours, size), flush=True)
    # the default is two worker processes from 2 cores on for images when a core is spare
    # (the main process reads and walks layers while the workers scan the files already
    # read), else none: both beside it
    one = _leakscan(archive, WORK / "image" / "content-cache.sqlite", jobs=1)
    print(run_line(f"image {label} ({size:.0f} MB)", "leakscan -j 1", one, size), flush=True)
    two = _leakscan(archive, WORK / "image" / "content-cache.sqlite", jobs=2)
    print(run_line(f"image {label} ({size:.0f} MB)", "leakscan -j 2", two, size), flush=True)
    theirs = _kingfisher(archive)
    if theirs is not None:
        print(run_line(f"image {label} ({size:.0f} MB)", "kingfisher", theirs, size), flush=True)
        print(
            f"image {label}: leakscan takes {ours.seconds / theirs.seconds:.2f}x Kingfisher's "
            f"time, {ours.cpu_seconds / max(theirs.cpu_seconds, 1e-9):.2f}x its CPU"
        )
    else:
        print(f"image {label}: kingfisher not installed")
    rss_ok = "under" if ours.peak_rss_mb < 500 else "OVER"
    print(f"image {label}: leakscan peak RSS {ours.peak_rss_mb:.0f} MB ({rss_ok} the 500 MB aim)")
    out[f"leakscan_{label}_s"] = ours.seconds
    out[f"leakscan_{label}_cpu_s"] = ours.cpu_seconds
    out[f"leakscan_{label}_rss_mb"] = ours.peak_rss_mb
    out[f"leakscan_{label}_j1_s"] = one.seconds
    out[f"leakscan_{label}_j1_cpu_s"] = one.cpu_seconds
    out[f"leakscan_{label}_j2_s"] = two.seconds
    out[f"leakscan_{label}_j2_cpu_s"] = two.cpu_seconds
    if theirs is not None:
        out[f"kingfisher_{label}_s"] = theirs.seconds
        out[f"kingfisher_{label}_cpu_s"] = theirs.cpu_seconds


def run() -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        full, _ = build_full_archive()
    except (OSError, subprocess.CalledProcessError) as exc:
        log = FULL_ARCHIVE.parent / "full-parts" / "build.log"
        print(
            f"image: the ~1 GB image could not be built ({exc}; see {log}): no network to "
            "the Debian mirror, PyPI or npm? Measuring the python image only.",
            flush=True,
        )
    else:
        _measure("full", full, out)
    python, _ = build_archive()
    _measure("python", python, out)
    return out


if __name__ == "__main__":
    run()
