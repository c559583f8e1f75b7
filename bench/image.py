"""`leakscan scan image docker-archive:…` beside `kingfisher scan docker --archive` on the same
`docker save` archive (classic layout), built without a daemon from a copy of this machine's
Python installation (standard library and site-packages, capped at ~400 MB) plus a few planted
secrets in later layers (one deleted, one overwritten).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import string
import sys
import sysconfig
import tarfile
import zlib
from pathlib import Path

from bench.common import WORK, ratio_line, timed, tool

CAP_BYTES = 400 * 1024 * 1024
LAYERS = 3  # the Python installation split into this many layers
ARCHIVE = WORK / "image" / "python-image.tar"


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


def build_archive(target: Path = ARCHIVE) -> tuple[Path, dict[str, str]]:
    """The archive (cached) and the secrets planted in it."""
    secrets_file = target.with_suffix(".secrets.json")
    if target.exists() and secrets_file.exists():
        return target, json.loads(secrets_file.read_text())
    secrets = _secrets(random.Random(1234))
    tmp = target.parent / "build.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = _python_files(CAP_BYTES)
    per = -(-len(files) // LAYERS)
    chunks = [files[i : i + per] for i in range(0, len(files), per)]
    env = f"GITHUB_TOKEN={secrets['github']}\nAWS_ACCESS_KEY_ID={secrets['aws']}\n".encode()
    conf = f'[db]\npassword = "{secrets["password"]}"\n'.encode()
    specs: list[tuple[str, list[tuple[Path, str]] | None, dict[str, bytes | None] | None]] = [
        (f"COPY python{i} /usr/local/lib/", chunk, None) for i, chunk in enumerate(chunks)
    ]
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
        json.dumps([{"Config": config_name, "RepoTags": ["bench/python:1"], "Layers": layer_names}])
    )
    partial = target.with_suffix(".tar.tmp")
    with tarfile.open(partial, "w") as outer:
        for name in ["manifest.json", config_name, *layer_names]:
            outer.add(tmp / name, arcname=name, recursive=False)
    shutil.rmtree(tmp)
    partial.rename(target)
    secrets_file.write_text(json.dumps(secrets))
    return target, secrets


def run() -> dict[str, float]:
    archive, _secrets_planted = build_archive()
    size = archive.stat().st_size / 1e6
    ours = timed(
        [
            sys.executable,
            "-m",
            "leakscan.cli",
            "scan",
            "image",
            f"docker-archive:{archive}",
            "--no-progress",
            "-f",
            "json",
            "-o",
            "/dev/null",
        ]
    )
    print(
        f"image: leakscan scan image of a {size:.0f} MB docker save archive: "
        f"{ours.seconds:.2f}s ({size / ours.seconds:.0f} MB/s), peak RSS "
        f"{ours.peak_rss_mb:.0f} MB, exit {ours.returncode}",
        flush=True,
    )
    out = {"leakscan_image_s": ours.seconds, "leakscan_image_rss_mb": ours.peak_rss_mb}
    kingfisher = tool("kingfisher")
    theirs = None
    if kingfisher:
        # --no-limits: with its default content limits Kingfisher stops extracting this
        # archive part-way and fails ("layer01/layer.tar was not found"); leakscan reads it all
        run_k = timed(
            [
                kingfisher,
                "scan",
                "docker",
                "--archive",
                str(archive),
                "--no-validate",
                "--no-limits",
                "--format",
                "json",
                "--no-update-check",
                "-o",
                os.devnull,
            ]
        )
        theirs = run_k.seconds
        print(f"image: kingfisher {run_k.seconds:.2f}s, exit {run_k.returncode}", flush=True)
        out["kingfisher_image_s"] = theirs
        out["kingfisher_image_rss_mb"] = run_k.peak_rss_mb  # max over all children so far
    print(ratio_line("image vs kingfisher", ours.seconds, theirs, "kingfisher"))
    rss_ok = "under" if ours.peak_rss_mb < 500 else "OVER"
    print(f"image: leakscan peak RSS {ours.peak_rss_mb:.0f} MB ({rss_ok} the 500 MB aim)")
    return out


if __name__ == "__main__":
    run()
