"""Dockerfiles: ``ENV``/``ARG`` defaults (``K=V`` and legacy ``K V`` forms), credentials in
``RUN`` (``curl -u user:pass``, ``wget --password``, ``https://TOKEN@host`` URLs) and
``--build-arg K=V`` values (in comments too). Each pair is reported at its physical line."""

from __future__ import annotations

import re
from collections.abc import Iterator

from leakscan.sources.manifests.pairs import Pair, literal, utf8

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$")
_KV = re.compile(
    r"""(?:^|\s)([A-Za-z_][A-Za-z0-9_.\-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|(?:[^\s"'\\]|\\.)*)"""
)
_CURL_USER = re.compile(r"""(?:^|\s)(?:-u|--user)(?:\s+|=)(['"]?)([^\s:'"]+):([^\s'"]+)\1""")
_WGET_PASSWORD = re.compile(r"""--(?:http-|ftp-|proxy-)?password[=\s]+(['"]?)([^\s'"]+)\1""")
_URL_CREDS = re.compile(
    r"""\b[a-zA-Z][a-zA-Z0-9+.\-]*://([^/\s:@'"]+)(?::([^/\s@'"]+))?@[^\s/'"@]+"""
)
_BUILD_ARG = re.compile(r"""--build-arg[=\s]+([A-Za-z_][A-Za-z0-9_]*)=(['"]?)([^\s'"]+)\2""")
_URL_USERS = {"git", "ssh", "root", "user", "anonymous", "ftp"}  # user names, not tokens


def dockerfile_pairs(text: str) -> Iterator[Pair]:
    for lines in _instructions(text.splitlines()):
        first = lines[0][1]
        m = _INSTRUCTION.match(first)
        word = m.group(1).upper() if m and not first.lstrip().startswith("#") else "#"
        if word in ("ENV", "ARG"):
            yield from _env_arg(word, lines)
            continue
        for number, line in lines:
            yield from _inline(word, number, line)


def _instructions(raw: list[str]) -> Iterator[list[tuple[int, str]]]:
    """Logical instructions as lists of (line number, physical line)."""
    current: list[tuple[int, str]] = []
    for index, line in enumerate(raw, 1):
        stripped = line.strip()
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not current and (not stripped or stripped.startswith("#")):
            if stripped:
                yield [(index, line)]
            continue
        current.append((index, line))
        if not stripped.endswith("\\"):
            yield current
            current = []
    if current:
        yield current


def _env_arg(word: str, lines: list[tuple[int, str]]) -> Iterator[Pair]:
    first_no, first = lines[0]
    body = first.split(None, 1)[1] if len(first.split(None, 1)) > 1 else ""
    parts = [(first_no, body), *lines[1:]]
    head = body.strip().split(None, 1)
    if word == "ENV" and head and "=" not in head[0] and len(head) > 1:  # legacy ENV K V
        value = " ".join(p.strip().rstrip("\\").strip() for _, p in parts).split(None, 1)[1]
        if literal(value):
            yield Pair(head[0], f"ENV[{head[0]}]", utf8(_unquote(value)), first_no, "dockerfile")
        return
    for number, line in parts:
        for m in _KV.finditer(line.rstrip().rstrip("\\")):
            name, value = m.group(1), _unquote(m.group(2))
            if literal(value):
                yield Pair(name, f"{word}[{name}]", utf8(value), number, "dockerfile")


def _inline(word: str, number: int, line: str) -> Iterator[Pair]:
    where = "comment" if word == "#" else word
    if "curl" in line:
        for m in _CURL_USER.finditer(line):
            yield Pair(
                "password", f"{where}[curl -u {m.group(2)}]", utf8(m.group(3)), number, "dockerfile"
            )
    if "wget" in line:
        for m in _WGET_PASSWORD.finditer(line):
            yield Pair(
                "password", f"{where}[wget --password]", utf8(m.group(2)), number, "dockerfile"
            )
    for m in _URL_CREDS.finditer(line):
        user, password = m.group(1), m.group(2)
        if password:
            yield Pair("password", f"{where}[url {user}:…]", utf8(password), number, "dockerfile")
        elif user.lower() not in _URL_USERS:
            yield Pair("token", f"{where}[url token]", utf8(user), number, "dockerfile")
    for m in _BUILD_ARG.finditer(line):
        name = m.group(1)
        yield Pair(name, f"{where}[--build-arg {name}]", utf8(m.group(3)), number, "dockerfile")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return re.sub(r"\\(.)", r"\1", inner) if value[0] == '"' else inner
    return re.sub(r"\\(.)", r"\1", value)
