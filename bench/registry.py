"""`leakscan audit` of a local registry: 50 tags over shared base layers, then again from the cache;
and `leakscan scan image` of the ~1 GB bench image pushed there (gzip layers) beside its
docker-archive scan.

Debian's docker-registry runs on a free loopback port with its storage in a temporary folder under
bench/work/. Images are built in Python and pushed through the distribution API: every tag shares
one ~45 MB (compressed) base layer (Python's standard library and shared libraries), each group of
10 tags one ~4 MB runtime layer, and each tag has its own small application layer (a few with a
synthetic secret) and ~2 MB of vendored code. The shared layers are built once and kept under
bench/work/registry-layers/.
"""

from __future__ import annotations

import gzip
import http.client
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
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.common import WORK, Run, run_line, stdlib_copy, timed
from tests.support.oci import REGISTRY_BIN, oci_image, push, sha, start_registry, stop_registry

REPOS = 5
TAGS_PER_REPO = 10
BASE_BYTES = 120 * 1024 * 1024  # ~40 MB compressed
RUNTIME_BYTES = 10 * 1024 * 1024
APP_BYTES = 2 * 1024 * 1024  # each tag's own code and vendored libraries
TAGS = REPOS * TAGS_PER_REPO

_B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _github_token(rng: random.Random) -> str:
    body = "".join(rng.choice(_B62) for _ in range(30))  # the CRC covers the random part only
    n, tail = zlib.crc32(body.encode()), []
    for _ in range(6):
        n, r = divmod(n, 62)
        tail.append(_B62[r])
    return "ghp_" + body + "".join(reversed(tail))


def _layer(files: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    """(diff id, gzip'd tar), deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return sha(raw), gzip.compress(raw, compresslevel=6, mtime=0)


def _files(
    roots: list[Path], budget: int, prefix: str, step: int = 1, offset: int = 0
) -> list[tuple[str, bytes]]:
    """Regular files under ``roots`` (every ``step``-th from ``offset``) up to ``budget`` bytes."""
    out: list[tuple[str, bytes]] = []
    total = 0
    for root in roots:
        paths = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
        for p in paths[offset::step]:
            if total >= budget:
                return out
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if len(data) > 8 * 1024 * 1024:
                continue
            out.append((prefix + p.relative_to(root.parent).as_posix(), data))
            total += len(data)
    return out


def _cached_layer(name: str, build: Callable[[], list[tuple[str, bytes]]]) -> tuple[str, bytes]:
    """A shared layer, built once and kept under bench/work/registry-layers/."""
    folder = WORK / "registry-layers"
    blob, meta = folder / f"{name}.tar.gz", folder / f"{name}.diffid"
    if blob.exists() and meta.exists():
        return meta.read_text(), blob.read_bytes()
    diff_id, gz = _layer(build())
    folder.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(gz)
    meta.write_text(diff_id)
    return diff_id, gz


def _shared_layers() -> tuple[tuple[str, bytes], list[tuple[str, bytes]]]:
    """The base layer (Python's stdlib and shared libraries, ~BASE_BYTES) and the runtimes."""
    libs = [
        p
        for p in (Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"))
        if p.is_dir()
    ]
    base = _cached_layer("base", lambda: _files([stdlib_copy(), *libs], BASE_BYTES, "usr/lib/"))
    doc = [p for p in (Path("/usr/lib/python3"), Path("/usr/share/doc")) if p.is_dir()]
    runtimes = [
        _cached_layer(
            f"runtime{v}", partial(_files, doc, RUNTIME_BYTES, f"opt/runtime{v}/", REPOS, v)
        )
        for v in range(REPOS)
    ]
    return base, runtimes


_REGISTRY_PID: list[int] = []  # the running registry's process, for its CPU time


@contextmanager
def _registry(tmp: Path) -> Iterator[str]:
    """A docker-registry on loopback; yields host:port and always stops it."""
    host, _, proc = start_registry(tmp, "bench")
    _REGISTRY_PID[:] = [proc.pid]
    try:
        yield host
    finally:
        _REGISTRY_PID.clear()
        stop_registry(proc)


def _registry_cpu() -> float:
    """CPU seconds (user + system) the registry has used so far (0 where /proc is not)."""
    try:
        fields = Path(f"/proc/{_REGISTRY_PID[0]}/stat").read_text().rsplit(")", 1)[1].split()
    except (IndexError, OSError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _populate(host: str) -> tuple[int, int, int]:
    """Push the images; return (tags, unique layer bytes, layer bytes summed over tags)."""
    rng = random.Random(4)
    base, runtimes = _shared_layers()
    stdlib = stdlib_copy()
    session = requests.Session()
    unique: dict[str, int] = {}
    per_tag_total = 0
    tags = 0
    for r in range(REPOS):
        for t in range(TAGS_PER_REPO):
            tag = f"1.{t}"
            app = f"# app {r}.{t}\nimport os\nPORT = {8000 + t}\n".encode() * 20
            if t % 4 == 0:
                app += f'GITHUB_TOKEN = "{_github_token(rng)}"\n'.encode()
            vendored = _files([stdlib], APP_BYTES, f"app/service{r}/vendor/", TAGS, tags)
            layers = [base, runtimes[r], _layer([(f"app/service{r}/main.py", app), *vendored])]
            image = oci_image(layers, ["PATH=/usr/bin", f"TAG={r}:{tag}"])
            push(session, f"http://{host}", f"team{r}/service", tag, image)
            for gz in image.layers:
                unique[sha(gz)] = len(gz)
                per_tag_total += len(gz)
            tags += 1
    return tags, sum(unique.values()), per_tag_total


def _audit(host: str, state: Path, report: Path, *args: str) -> tuple[float, int, dict[str, Any]]:
    """One audit with its own state and content cache (beside the state file); its stats
    carry ``cpu`` (the audit's CPU seconds) and ``registry_cpu`` (the registry's meanwhile)."""
    registry_before = _registry_cpu()
    run = timed(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "audit",
            host,
            "--insecure",
            "--state",
            str(state),
            "--cache",
            str(state.with_suffix(".content.sqlite")),
            "--no-progress",
            "-f",
            "json",
            "-o",
            str(report),
            *args,
        ]
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    stats = data.get("stats", {}) if isinstance(data, dict) else {}
    findings = len(data.get("findings", [])) if isinstance(data, dict) else 0
    digest = data.get("tool", {}).get("rules_digest") if isinstance(data, dict) else None
    return (
        run.seconds,
        run.returncode,
        {
            **stats,
            "findings": findings,
            "rules_digest": digest,
            "cpu": run.cpu_seconds,
            "registry_cpu": _registry_cpu() - registry_before,
        },
    )


_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def _ceiling(host: str, paths: list[str], connections: int) -> tuple[float, float, float]:
    """The registry's own limit: a manifest HEAD for each of ``paths`` from a lean client
    (``http.client``, ``connections`` kept-alive connections); (HEADs per second, registry
    CPU ms per HEAD, client CPU ms per HEAD)."""
    name, _, port = host.partition(":")
    todo = list(paths)
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(name, int(port), timeout=30)
        try:
            while True:
                with lock:
                    if not todo:
                        return
                    path = todo.pop()
                conn.request("HEAD", path, headers={"Accept": _ACCEPT})
                conn.getresponse().read()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    registry, cpu, started = _registry_cpu(), time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    n = len(paths)
    return (
        n / seconds,
        (_registry_cpu() - registry) * 1000 / n,
        (time.process_time() - cpu) * 1000 / n,
    )


def run() -> dict[str, float]:
    if not Path(REGISTRY_BIN).exists():
        print("registry: docker-registry is not installed; skipped")
        return {}
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="registry-", dir=WORK))
    try:
        with _registry(tmp) as host:
            started = time.perf_counter()
            tags, unique_bytes, per_tag_bytes = _populate(host)
            print(
                f"registry: {tags} tags in {REPOS} repositories pushed in "
                f"{time.perf_counter() - started:.1f}s; unique layer bytes "
                f"{unique_bytes / 1e6:.1f} MB, summed over tags {per_tag_bytes / 1e6:.1f} MB"
            )
            empty = tmp / "empty"
            empty.mkdir()  # a first scan compiles and caches the rules database: not timed
            timed([sys.executable, "-m", "leakscan.cli", "scan", str(empty), "--no-progress"])
            state = tmp / "state.sqlite"
            first_s, rc1, first = _audit(host, state, tmp / "run1.json", "--repo", "team*")
            second_s, rc2, second = _audit(host, state, tmp / "run2.json", "--repo", "team*")
            figures = _issue_figures(host, tmp)
            figures.update(_image_scan(host, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for label, secs, rc, stats in (
        ("first", first_s, rc1, first),
        ("second", second_s, rc2, second),
    ):
        print(
            f"registry: {label} audit {secs:.2f}s, exit {rc}, "
            f"{int(stats.get('bytes_downloaded', 0)) / 1e6:.1f} MB downloaded, "
            f"{stats.get('layers_reused', 0)} layers reused, "
            f"{stats.get('images', '?')} images, {stats.get('findings')} findings"
        )
    if first.get("rules_digest") != second.get("rules_digest"):
        print(
            "registry: WARNING: the rules changed between the two audits (patterns/ edited?): "
            "the cache was rightly not reused; run again"
        )
    downloaded = int(first.get("bytes_downloaded", 0))
    print(
        f"registry: first audit downloaded {downloaded / unique_bytes:.2f}x the unique layer "
        f"bytes ({downloaded / per_tag_bytes:.2f}x of tags x layer sizes); aim ~1x unique"
    )
    speedup = first_s / second_s if second_s else float("inf")
    print(f"registry: second audit (cache) is {speedup:.1f}x faster than the first; aim >= 20x")
    return {
        **figures,
        "audit_first_s": first_s,
        "audit_second_s": second_s,
        "audit_speedup": speedup,
        "audit_first_bytes": float(downloaded),
    }


MANY_REPOS, MANY_TAGS = 10, 100  # 1,000 tags over 10 small images
BIG_TAGS = 30  # tags of one large image


def _small_image(r: int) -> Any:
    files = [(f"srv/app{r}/m{i}.py", f"VALUE_{i} = {i * r}\n".encode() * 40) for i in range(40)]
    return oci_image([_layer(files)], ["PATH=/usr/bin", f"APP={r}"])


def _issue_figures(host: str, tmp: Path) -> dict[str, float]:
    """The figures of issue 13: 1,000 tags over 10 small images audited first and again from
    the state; 30 tags over one large image against one scan of it."""
    session = requests.Session()
    started = time.perf_counter()
    for r in range(MANY_REPOS):
        image = _small_image(r)
        for t in range(MANY_TAGS):
            push(session, f"http://{host}", f"many{r}/svc", f"1.{t}", image)
    base, runtimes = _shared_layers()
    big = oci_image([base, runtimes[0]], ["PATH=/usr/bin"])
    for t in range(BIG_TAGS):
        push(session, f"http://{host}", "big/app", f"v{t}", big)
    print(f"registry: {MANY_REPOS * MANY_TAGS + BIG_TAGS} more tags pushed in "
          f"{time.perf_counter() - started:.1f}s")  # fmt: skip
    return _measure_figures(host, tmp)


def _measure_figures(host: str, tmp: Path) -> dict[str, float]:
    """The figures of issue 13, the images pushed."""
    tags = MANY_REPOS * MANY_TAGS
    none_s, _, st0 = _audit(host, tmp / "none.sqlite", tmp / "none.json", "--repo", "none*")
    print(
        f"registry: an audit of no repository (start-up, catalog, report) {none_s:.2f}s, "
        f"cpu {st0['cpu']:.2f}s"
    )
    state = tmp / "many.sqlite"
    many1, rc1, st1 = _audit(host, state, tmp / "many1.json", "--repo", "many*")
    many2, rc2, st2 = _audit(host, state, tmp / "many2.json", "--repo", "many*")
    print(
        f"registry: {tags} tags over {MANY_REPOS} images: first audit {many1:.2f}s "
        f"({tags / many1:.0f} tags/s, exit {rc1}, {st1.get('layers_scanned')} layers scanned, "
        f"cpu {st1['cpu']:.2f}s, registry cpu {st1['registry_cpu']:.2f}s); "
        f"again from the state {many2:.2f}s ({tags / many2:.0f} tags/s, exit {rc2}, "
        f"cpu {st2['cpu']:.2f}s, registry cpu {st2['registry_cpu']:.2f}s; aim >= 1,000 tags/s)"
    )
    paths = [
        f"/v2/many{r}/svc/manifests/1.{t}" for r in range(MANY_REPOS) for t in range(MANY_TAGS)
    ]
    for n in (1, 4, 8):
        rate, registry_ms, client_ms = _ceiling(host, paths, n)
        print(
            f"registry: its ceiling, a lean client's manifest HEADs on {n} connection(s): "
            f"{rate:.0f}/s, registry cpu {registry_ms:.2f} ms and client cpu {client_ms:.2f} ms "
            "per HEAD (a re-audit asks one per tag)"
        )
    one = timed(
        [sys.executable, "-m", "leakscan.cli", "scan", "image", f"{host}/big/app:v0",
         "--no-progress", "-f", "json", "-o", str(tmp / "big-scan.json")],
        env={"LEAKSCAN_CONTENT_CACHE": "off"},
    )  # fmt: skip
    big_s, rc3, st3 = _audit(host, tmp / "big.sqlite", tmp / "big.json", "--repo", "big/*")
    print(
        f"registry: {BIG_TAGS} tags over one large image: audit {big_s:.2f}s (exit {rc3}, "
        f"{st3.get('layers_scanned')} layers scanned, cpu {st3['cpu']:.2f}s) against one scan "
        f"image {one.seconds:.2f}s (cpu {one.cpu_seconds:.2f}s) -> {big_s / one.seconds:.2f}x, "
        f"cpu {st3['cpu'] / one.cpu_seconds:.2f}x (aim ~1x)"
    )
    return {
        "audit_many_first_s": many1,
        "audit_many_again_s": many2,
        "audit_many_again_tags_per_s": tags / many2,
        "audit_none_s": none_s,
        "audit_big_s": big_s,
        "scan_big_s": one.seconds,
    }


def _findings(report: Path) -> list[tuple[object, ...]]:
    """A report's findings as the same image shows them whatever its transport (layer and image
    digests differ between a docker-archive and a registry: the layers are compressed)."""
    data = json.loads(report.read_text()) if report.exists() else {}
    out = []
    for finding in data.get("findings", []) if isinstance(data, dict) else []:
        for loc in finding.get("locations", []):
            out.append(
                (finding.get("rule_id"), finding.get("redacted"), loc.get("path"),
                 loc.get("layer_index"), loc.get("state"), loc.get("line"), loc.get("column"))
            )  # fmt: skip
    return sorted(out, key=repr)


def _image_scan(host: str, tmp: Path) -> dict[str, float]:
    """The ~1 GB bench image (bench/image.py builds it) pushed with skopeo (gzip layers), then
    scanned from the registry and as its docker-archive, each with a fresh content cache."""
    from bench.image import FULL_ARCHIVE, _tree_timed

    skopeo = shutil.which("skopeo")
    if skopeo is None or not FULL_ARCHIVE.exists():
        print("registry: image scan skipped (needs skopeo and bench/image.py's full image)")
        return {}
    ref = f"{host}/bench/full:1"
    started = time.perf_counter()
    subprocess.run(
        [skopeo, "copy", "--quiet", "--dest-tls-verify=false",
         f"docker-archive:{FULL_ARCHIVE}", f"docker://{ref}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"registry: the full image pushed in {time.perf_counter() - started:.1f}s")
    size = FULL_ARCHIVE.stat().st_size / 1e6
    runs: dict[str, Run] = {}
    for label, target in (("registry", ref), ("docker-archive", f"docker-archive:{FULL_ARCHIVE}")):
        cache = tmp / f"image-{label}.sqlite"
        cmd = [sys.executable, "-m", "leakscan.cli", "scan", "image", target, "--no-progress",
               "-f", "json", "-o", str(tmp / f"image-{label}.json")]  # fmt: skip
        registry_before = _registry_cpu()
        runs[label] = _tree_timed(cmd, env={"LEAKSCAN_CONTENT_CACHE": str(cache)})
        line = run_line(
            f"registry: scan image, {label} ({size:.0f} MB)", "leakscan", runs[label], size
        )
        if label == "registry":
            line += f", registry cpu {_registry_cpu() - registry_before:.2f}s"
        print(line, flush=True)
    same = _findings(tmp / "image-registry.json") == _findings(tmp / "image-docker-archive.json")
    remote, local = runs["registry"], runs["docker-archive"]
    print(
        f"registry: scan image from the registry takes {remote.seconds / local.seconds:.2f}x the "
        f"docker-archive's time, {remote.cpu_seconds / max(local.cpu_seconds, 1e-9):.2f}x its "
        f"CPU; findings {'identical' if same else 'DIFFERENT'} (Kingfisher 2.14 reads a "
        "loopback reference through a Docker daemon: not run)"
    )
    return {
        "scan_image_registry_s": remote.seconds,
        "scan_image_registry_cpu_s": remote.cpu_seconds,
        "scan_image_registry_rss_mb": remote.peak_rss_mb,
        "scan_image_archive_s": local.seconds,
        "scan_image_archive_cpu_s": local.cpu_seconds,
    }
