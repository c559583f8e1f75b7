"""Valid small inputs the fuzz targets start from (so mutations get past the first check).

Every planted secret is made fresh per run (:func:`tests.hardening.helpers.ghp_token`:
random, with a valid checksum); none is a real credential.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile
from collections.abc import Callable

import zstandard
from hypothesis import strategies as st

from tests.hardening.helpers import ghp_token

SECRET = ghp_token()  # in the first member / line / layer: must survive bad bytes after it
SECRET_ENV = ghp_token()  # in an image configuration's Env

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda b: b,
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ),
    "bzip2": lambda b: bz2.compress(b),
}


def tar_bytes(members: list[tuple[str, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, content in members:
            zf.writestr(name, content)
    return buf.getvalue()


FIRST_MEMBER = ("app/.env", f"TOKEN={SECRET}\n".encode())
#: a layer whose first member holds the secret; its header and data end at FIRST_END
LAYER = tar_bytes(
    [
        FIRST_MEMBER,
        ("etc/.wh.passwd", b""),
        ("usr/lib/x.txt", b"hello\n" * 20),
        ("usr/lib/y.conf", b"key = value\n" * 10),
    ],
    fmt=tarfile.USTAR_FORMAT,  # no PAX header in front: the first member starts at 0
)
FIRST_END = 512 + 512  # one header block, one data block (the member is < 512 bytes)

JSON_CONFIG = json.dumps(
    {
        "name": "app",
        "database": {"host": "db", "password": "hunter2-not-real"},  # leakscan:allow
        "github": {"token": SECRET},
        "list": [1, 2.5, None, True, "x"],
    },
    indent=2,
).encode()

K8S_SECRET = (
    b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  token: Z2hwX2FiYw==\n"
    b"stringData:\n  pw: &a hunter2xx\n  again: *a\n---\n"
    b"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
    b"        - name: c\n          env:\n            - name: GITHUB_TOKEN\n              value: "
    + SECRET.encode()
    + b"\n"
)
COMPOSE = (
    b"services:\n  web:\n    image: x\n    environment:\n      - TOKEN=" + SECRET.encode() + b"\n"
    b"      API_KEY: abc\n    env_file: .env\n"
)
DOTENV = (
    f"GITHUB_TOKEN={SECRET}\n"
    "export A='single quoted'\n"
    'B="multi\nline \\" value"\n'
    "C=plain # comment\n"
    "# comment\n"
).encode()

#: text made of the characters YAML, JSON and .env syntax is built from
SYNTAXISH = st.text(
    alphabet=st.sampled_from(list("abcKEY_=:-&*<>[]{}|\"'#!\n \t$\\u00é1,.%@`?")), max_size=400
)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def deep_nesting(draw: st.DrawFn, opener: str = "[", closer: str = "]") -> bytes:
    """``[[[…]]]``-like documents from shallow to far past any parser's recursion limit,
    sometimes unclosed, sometimes behind a key (``a: [[[``)."""
    depth = draw(st.sampled_from([1, 50, 199, 201, 999, 1001, 5_000, 60_000]))
    closed = draw(st.booleans())
    prefix = draw(st.sampled_from(["", "a: ", '{"a": ', "- ", "k=v\n"]))
    return (prefix + opener * depth + (closer * depth if closed else "")).encode()


def poke(doc: object, path: list[int], value: object) -> object:
    """Replace one node (chosen by successive indexes) of a JSON tree with ``value``."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    doc[key] = poke(doc[key], path[1:], value)  # type: ignore[index]
    return doc
