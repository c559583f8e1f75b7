"""The synthetic tree: one generated secret per rule and file kind, planted in realistic files,
plus random base64/hex files on which every finding is noise.

Each planted secret sits in its own small folder (``synthetic/sNNNN/``) in files a project has
(.env, config.yaml, settings.json, settings.py, deploy.sh) among ordinary settings, under a key
named after the rule's provider and kind. Where the rule's pattern needs more context than a
key name gives (a URL, a command line, a block), the generated match is the value or the line.
A secret is planted only where the rule's own pattern finds it in the written file, so every
label is true by construction.
"""

from __future__ import annotations

import base64
import json
import random
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.diff_generate import Generated, GenerationError, generate, secret_in
from bench.diff_match import Planted
from leakscan.rules.spec import Rule

FORMATS = ("env", "yaml", "json", "py", "sh")
FILE_NAMES = {
    "env": ".env",
    "yaml": "config.yaml",
    "json": "settings.json",
    "py": "settings.py",
    "sh": "deploy.sh",
}
_PLAIN = re.compile(r"[A-Za-z0-9._/+=:@-]+")


def key_name(rule: Rule) -> str:
    """``leakscan.mistral.api-key`` -> ``MISTRAL_API_KEY``."""
    parts = rule.id.split(".")[1:] or [rule.id]
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_").upper()


def _env_value(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return value
    if '"' not in value and "\\" not in value and "$" not in value and "`" not in value:
        return f'"{value}"'
    return f"'{value}'" if "'" not in value else json.dumps(value)


def _yaml_value(value: str, indent: str) -> str:
    if "\n" in value:
        body = "\n".join(indent + "  " + ln for ln in value.strip("\n").split("\n"))
        return "|\n" + body
    if _PLAIN.fullmatch(value) and value[0] not in "-:@" and not value.isdigit():
        return value
    return json.dumps(value)


def _py_value(value: str) -> str:
    if "\n" in value:
        return '"""' + value + '"""' if '"""' not in value and "\\" not in value else repr(value)
    if '"' not in value and "\\" not in value:
        return f'"{value}"'
    return repr(value)


def _sh_value(value: str) -> str:
    return f"'{value}'" if "'" not in value else json.dumps(value)


def render(fmt: str, key: str, value: str) -> tuple[str, str]:
    """A realistic file of kind ``fmt`` setting ``key`` to ``value``; and the line holding it."""
    low = key.lower()
    if fmt == "env":
        line = f"{key}={_env_value(value)}"
        return f"APP_ENV=production\nLOG_LEVEL=info\nPORT=8080\n{line}\nWORKERS=4\n", line
    if fmt == "yaml":
        line = f"  {low}: {_yaml_value(value, '  ')}"
        text = f"service:\n  name: billing\n  replicas: 3\n{line}\n  timeout: 30s\n"
        return text, line
    if fmt == "json":
        line = f'  "{low}": {json.dumps(value)},'
        return f'{{\n  "name": "billing",\n{line}\n  "region": "eu-west-1"\n}}\n', line
    if fmt == "py":
        line = f"{key} = {_py_value(value)}"
        return (
            f'"""Settings."""\nDEBUG = False\nALLOWED_HOSTS = ["billing.internal"]\n{line}\n',
            line,
        )
    if fmt == "sh":
        line = f"export {key}={_sh_value(value)}"
        text = f"#!/bin/sh\nset -eu\n{line}\nexec ./billing --port 8080\n"
        return text, line
    raise ValueError(fmt)


def render_raw(fmt: str, block: str) -> str:
    """``block`` as lines of its own in a file of kind ``fmt`` (commands, URLs, blocks)."""
    head = {
        "env": "APP_ENV=production\n",
        "yaml": "# deployment notes\n",
        "json": "",
        "py": '"""Settings."""\n',
        "sh": "#!/bin/sh\nset -eu\n",
    }[fmt]
    return head + block.rstrip("\n") + "\n"


def _planted_in(rule: Rule, text: str, secret: str) -> bool:
    if rule.context:  # structured values only: the key name decides, the pattern sees the value
        return bool(re.search(rule.context, key_name(rule))) and secret_in(rule, secret, secret)
    return secret_in(rule, text, secret)


def _locate(text: str, secret: str) -> tuple[int, int]:
    at = text.find(secret)
    if at < 0:  # escaped in the file (JSON): find its first line's text
        first = secret.split("\n", 1)[0]
        at = max(text.find(json.dumps(first)[1:-1]), 0)
    line = text.count("\n", 0, at) + 1
    return line, line + secret.count("\n")


def plant_one(rule: Rule, gen: Generated, fmt: str) -> tuple[str, int, int] | None:
    """The file text planting ``gen`` as ``fmt``, with the secret's lines; None if it cannot."""
    key = key_name(rule)
    candidates: list[str] = []
    if not (fmt == "json" and "\n" in gen.secret):
        candidates.append(render(fmt, key, gen.secret)[0])
    if gen.match != gen.secret and "\n" not in gen.match and fmt != "json":
        candidates.append(render(fmt, key, gen.match)[0])
    if fmt != "json" or "\n" not in gen.match:
        candidates.append(render_raw(fmt, gen.match))
    for text in candidates:
        if _planted_in(rule, text, gen.secret) and gen.secret in text:
            line, end = _locate(text, gen.secret)
            return text, line, end
    return None


@dataclass
class SyntheticTree:
    root: Path
    planted: list[Planted]
    unplantable: dict[str, str]  # rule id -> why
    noise_prefix: str


def build(
    rules: Sequence[Rule],
    root: Path,
    seed: int = 12,
    copies: int = 1,
    noise_mb: float = 4.0,
    progress: Callable[[str], None] = lambda s: None,
) -> SyntheticTree:
    """Write the synthetic tree under ``root`` (replaced) and return its labels."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "synthetic").mkdir(parents=True)
    rng = random.Random(seed)
    planted: list[Planted] = []
    unplantable: dict[str, str] = {}
    n = 0
    for rule in rules:
        for _ in range(copies):
            try:
                gen = generate(rule, rng)
            except GenerationError as exc:
                unplantable[rule.id] = str(exc)
                break
            n += 1
            folder = root / "synthetic" / f"s{n:04d}"
            folder.mkdir()
            placed = 0
            for fmt in FORMATS:
                done = plant_one(rule, gen, fmt)
                if done is None:
                    continue
                text, line, end = done
                rel = f"synthetic/s{n:04d}/{FILE_NAMES[fmt]}"
                (root / rel).write_text(text)
                planted.append(Planted(rule.id, fmt, rel, line, end, gen.secret))
                placed += 1
            if not placed:
                unplantable[rule.id] = "the pattern finds the draw in no rendered file"
    if noise_mb > 0:
        write_noise(root / "noise", rng, noise_mb)
    progress(f"synthetic: {len(planted)} secrets planted for {len(rules)} rules")
    return SyntheticTree(root, planted, unplantable, "noise/")


def write_noise(folder: Path, rng: random.Random, megabytes: float) -> None:
    """Random data in the shapes real trees carry it: MIME base64, one-line base64 in JSON,
    hex dumps, lockfile integrity hashes, UUID lists. Any finding here is noise."""
    folder.mkdir(parents=True, exist_ok=True)
    per_file = 64 * 1024
    count = max(5, int(megabytes * 1e6 / per_file))
    for i in range(count):
        kind = i % 5
        raw = rng.randbytes(per_file * 3 // 4)
        if kind == 0:
            b64 = base64.b64encode(raw).decode()
            text = "\n".join(b64[j : j + 76] for j in range(0, len(b64), 76)) + "\n"
            name = f"blob{i:03d}.b64"
        elif kind == 1:
            b64 = base64.b64encode(raw).decode()
            text = json.dumps({"id": i, "data": b64, "encoding": "base64"}) + "\n"
            name = f"payload{i:03d}.json"
        elif kind == 2:
            hx = raw[: per_file // 2].hex()
            text = "\n".join(hx[j : j + 64] for j in range(0, len(hx), 64)) + "\n"
            name = f"digest{i:03d}.txt"
        elif kind == 3:
            entries = {}
            for j in range(per_file // 200):
                digest = base64.b64encode(rng.randbytes(64)).decode()
                entries[f"node_modules/pkg{j}"] = {
                    "version": f"1.{j % 7}.{j % 11}",
                    "integrity": f"sha512-{digest}",
                }
            text = json.dumps({"lockfileVersion": 3, "packages": entries}, indent=2) + "\n"
            name = f"lock{i:03d}.json"
        else:
            ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(1500)]
            text = "\n".join(f"{k},{v}" for k, v in enumerate(ids)) + "\n"
            name = f"ids{i:03d}.csv"
        (folder / name).write_text(text)
