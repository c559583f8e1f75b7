"""Small pure pieces: whiteout states, package databases, build args, references."""

from __future__ import annotations

import base64
import hashlib

import pytest

from leakscan.sources.image.config import build_args, config_blobs, layer_history
from leakscan.sources.image.interface import ImageError
from leakscan.sources.image.reference import parse_reference
from leakscan.sources.image.vendor import PackageDb, is_db_path
from leakscan.sources.image.whiteouts import LayerIndex, file_state


def _layers(*specs: list[tuple[str, str]]) -> list[LayerIndex]:
    out = []
    for spec in specs:
        idx = LayerIndex()
        for path, kind in spec:
            idx.add(path, kind)
        out.append(idx)
    return out


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("etc/a", ("deleted", 1, None)),  # .wh.a
        ("srv/d/x", ("deleted", 1, None)),  # whiteout of a parent directory
        ("opt/o/x", ("deleted", 2, None)),  # opaque parent
        ("opt/o/kept", ("overwritten", 2, None)),  # written again after the opaque marker
        ("etc/b", ("overwritten", 1, None)),  # same path in a later layer
        ("var/f/x", ("overwritten", 2, None)),  # parent replaced by a file
        ("etc/c", ("present", None, None)),
    ],
)
def test_file_state(path, expected):
    layers = _layers(
        [],
        [("etc/a", "whiteout"), ("srv/d", "whiteout"), ("etc/b", "file"), ("etc", "dir")],
        [("opt/o", "opaque"), ("opt/o/kept", "file"), ("var/f", "file")],
    )
    st = file_state(path, 0, layers)
    state = (st.state, st.deleted_in_layer, st.overwritten_in_layer)
    if expected[0] == "overwritten":
        assert state == (expected[0], None, expected[1])
    else:
        assert state == expected


def test_package_databases_vouch_only_for_unmodified_files():
    content = b"print('hi')\n"
    db = PackageDb()
    md5 = hashlib.md5(content).hexdigest()
    db.add_db("var/lib/dpkg/info/x.md5sums", f"{md5}  usr/bin/x\n".encode())
    sha1 = base64.b64encode(hashlib.sha1(content).digest()).decode()
    db.add_db("lib/apk/db/installed", f"P:x\nF:usr/lib\nR:y.so\nZ:Q1{sha1}\n\n".encode())
    sha256 = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    db.add_db(
        "usr/lib/python3/site-packages/p-1.dist-info/RECORD",
        f"p/m.py,sha256={sha256},12\n".encode(),
    )
    for path in ("usr/bin/x", "usr/lib/y.so", "usr/lib/python3/site-packages/p/m.py"):
        hashes = {a: hashlib.new(a, content).hexdigest() for a in db.algorithms(path)}
        assert db.vouches(path, hashes), path
        edited = {a: hashlib.new(a, content + b"#").hexdigest() for a in db.algorithms(path)}
        assert not db.vouches(path, edited), path
    assert not db.algorithms("app/main.py")
    assert is_db_path("var/lib/dpkg/info/x.md5sums") and is_db_path("lib/apk/db/installed")
    assert not is_db_path("app/RECORD")


def test_build_args_and_history():
    assert build_args("|2 NPM_TOKEN=abc 'B=two words' /bin/sh -c make") == [
        ("NPM_TOKEN", "abc"),
        ("B", "two words"),
    ]
    assert build_args("/bin/sh -c make") == []
    config = {
        "history": [
            {"created_by": "ADD x /", "empty_layer": False},
            {"created_by": "ENV A=1", "empty_layer": True},
            {"created_by": "|1 T=s /bin/sh -c make"},
        ],
        "config": {"Env": ["DB_PASSWORD=hunter2", "EMPTY="], "User": "app"},
    }
    assert layer_history(config, 2) == ["ADD x /", "|1 T=s /bin/sh -c make"]
    assert layer_history(config, 3) == [None, None, None]
    blobs = list(config_blobs(config, "img", None))
    env = [(b.data, b.context) for b in blobs if b.provenance.fields["field"] == "Env[DB_PASSWORD]"]
    assert env == [(b"hunter2", "DB_PASSWORD"), (b"DB_PASSWORD=hunter2", None)]
    arg = [
        (b.data, b.context)
        for b in blobs
        if b.provenance.fields["field"] == "History[2].created_by"
    ]
    assert (b"s", "T") in arg


def test_references(tmp_path):
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"")
    assert parse_reference(f"docker-archive:{archive}").transport == "docker-archive"
    ref = parse_reference(f"docker-archive:{archive}:app:1")
    assert (ref.path, ref.tag) == (str(archive), "app:1")
    assert parse_reference(str(archive)).transport == "docker-archive"
    (tmp_path / "oci").mkdir()
    ref = parse_reference(f"oci:{tmp_path / 'oci'}:v1")
    assert (ref.transport, ref.tag) == ("oci", "v1")
    assert parse_reference("docker-daemon:app:1").path == "app:1"
    assert parse_reference("docker://registry.example/app:1").transport == "docker"
    assert parse_reference("registry.example/app:1").transport == "docker"
    with pytest.raises(ImageError):
        parse_reference("oci:")


@pytest.mark.parametrize("command", ["image", "container"])
def test_help_renders(command):
    from typer.testing import CliRunner

    from leakscan.cli import app

    result = CliRunner().invoke(app, ["scan", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout
