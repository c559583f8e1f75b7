"""rpm databases made by rpm itself: file digests, vendor files in an image, hostile bytes.

A tiny package is built with ``rpmbuild`` and installed with ``rpm --root`` (sqlite backend,
as RHEL/UBI 9 and Fedora ship it). Debian's rpm cannot write the other two backends, so their
containers are built around the header blobs rpm wrote: the Berkeley DB ``Packages`` by
Berkeley DB's own ``db_load`` (both byte orders), ``Packages.db`` (ndb) by a writer that
follows rpm's ``lib/backend/ndb/rpmpkg.c``.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakscan.sources.image import rpmdb
from leakscan.sources.image.vendor import PackageDb, is_db_path, wanted_db
from tests.conftest import require
from tests.helpers import github_token
from tests.sources.image.helpers import RULE_ID, run_cli, tar_bytes, write_oci_layout

SPEC = """\
Name: leakscan-rpm-demo
Version: 1.0
Release: 1
Summary: files for leakscan's rpm database tests
License: MIT
BuildArch: noarch
%description
test package
%install
mkdir -p %{buildroot}/opt/demo/sub
cp @SRC@/app.conf @SRC@/other.conf %{buildroot}/opt/demo/
printf 'hello\\n' > %{buildroot}/opt/demo/sub/readme
ln -s app.conf %{buildroot}/opt/demo/link
%files
/opt/demo
"""
FILES = ("opt/demo/app.conf", "opt/demo/other.conf", "opt/demo/sub/readme")
FLAGS = ["-f", "json", "--show-secrets", "--no-progress"]
ALGOS = {1: "md5", 2: "sha1", 8: "sha256", 10: "sha512"}  # PGPHASHALGO -> hashlib


@dataclass
class Installed:
    root: Path  # the install root: the packaged files and var/lib/rpm/rpmdb.sqlite
    tokens: dict[str, str]  # packaged file -> the synthetic token in it

    @property
    def sqlite(self) -> bytes:
        return (self.root / "var/lib/rpm/rpmdb.sqlite").read_bytes()

    def expected(self, algo: str) -> set[rpmdb.Record]:
        return {
            (p, algo, hashlib.new(algo, (self.root / p).read_bytes()).hexdigest()) for p in FILES
        }


def _run(*args: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"{args[0]} failed: {proc.stderr[-2000:]}"


def install(tmp: Path, algo: int) -> Installed:
    """Build the package with ``algo`` file digests and install it into a fresh root."""
    require(
        shutil.which("rpmbuild") is not None and shutil.which("rpm") is not None,
        "rpm is not installed (apt: rpm)",
    )
    src = tmp / "src"
    src.mkdir()
    tokens = {f"opt/demo/{name}": github_token() for name in ("app.conf", "other.conf")}
    for path, token in tokens.items():
        (src / Path(path).name).write_text(f"[api]\ntoken = {token}\n")
    spec = tmp / "demo.spec"
    spec.write_text(SPEC.replace("@SRC@", str(src)))
    _run(
        "rpmbuild", "-bb", "--quiet",
        "--define", f"_topdir {tmp / 'build'}",
        "--define", f"_binary_filedigest_algorithm {algo}",
        "--define", "__os_install_post %{nil}",
        "--define", "_build_id_links none",
        str(spec),
    )  # fmt: skip
    [package] = (tmp / "build" / "RPMS" / "noarch").glob("*.rpm")
    root = tmp / "root"
    root.mkdir()
    _run(
        "rpm", "--root", str(root), "--dbpath", "/var/lib/rpm",
        "--define", "_db_backend sqlite",
        "-i", "--nodeps", "--noscripts", "--notriggers", str(package),
    )  # fmt: skip
    return Installed(root, tokens)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(tmp_path_factory.mktemp("rpm"), 8)


def header_blobs(installed: Installed) -> list[bytes]:
    """The header blobs rpm wrote, read by SQLite from the file (test side only)."""
    conn = sqlite3.connect(installed.root / "var/lib/rpm/rpmdb.sqlite")
    try:
        return [blob for (blob,) in conn.execute("SELECT blob FROM Packages ORDER BY hnum")]
    finally:
        conn.close()


def berkeley_db(tmp: Path, blobs: list[bytes], order: str) -> bytes:
    """A Berkeley DB hash written by db_load, as rpm < 4.16 kept it: key = header number,
    value = header blob; key 0 holds the next header number (a 4-byte value on the page)."""
    require(shutil.which("db_load") is not None, "db_load is not installed (apt: db-util)")
    lorder = "1234" if order == "<" else "4321"
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096"]
    lines += [f"db_lorder={lorder}", "HEADER=END"]
    records = [struct.pack(f"{order}I", len(blobs) + 1), *blobs]  # key 0: the next number
    for hnum, blob in enumerate(records):
        lines += [" " + struct.pack(f"{order}I", hnum).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    path = tmp / f"Packages-{lorder}"
    proc = subprocess.run(["db_load", str(path)], input="\n".join(lines) + "\n", text=True)
    assert proc.returncode == 0
    return path.read_bytes()


def ndb(blobs: list[bytes]) -> bytes:
    """A SUSE ``Packages.db``: header and slot page, then one block per blob (rpmpkg.c)."""
    slots, blocks = bytearray(), bytearray()
    blkoff = 4096 // 16
    for pkgidx, blob in enumerate(blobs, 1):
        blkcnt = (16 + len(blob) + 12 + 15) // 16
        slots += b"Slot" + struct.pack("<III", pkgidx, blkoff, blkcnt)
        head = b"BlbS" + struct.pack("<III", pkgidx, 0, len(blob))
        pad = bytes(blkcnt * 16 - 16 - len(blob) - 12)
        adler = zlib.adler32(head + blob + pad)
        blocks += head + blob + pad + struct.pack("<II", adler, len(blob)) + b"BlbE"
        blkoff += blkcnt
    header = b"RpmP" + struct.pack("<IIII", 0, 1, 1, len(blobs) + 1) + bytes(12)
    free = b"Slot" + bytes(12)
    page = header + slots + free * ((4096 - 32 - len(slots)) // 16)
    return page + blocks


# -- the parser on real databases ---------------------------------------------------------


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_sqlite_records_are_the_packaged_files_with_their_digests(tmp_path, algo):
    got = install(tmp_path, algo)
    data = got.sqlite
    assert data[18:20] == b"\x02\x02"  # rpm leaves it in WAL mode: read all the same
    # regular files only: no record for the directories or the symlink
    assert set(rpmdb.records("rpmdb.sqlite", data)) == got.expected(ALGOS[algo])


@pytest.mark.parametrize("order", ["<", ">"])
def test_berkeley_db_records(installed, tmp_path, order):
    data = berkeley_db(tmp_path, header_blobs(installed), order)
    assert set(rpmdb.records("Packages", data)) == installed.expected("sha256")


def test_ndb_records(installed):
    data = ndb(header_blobs(installed))
    assert set(rpmdb.records("Packages.db", data)) == installed.expected("sha256")


def test_package_db_reads_rpm_paths_with_their_own_size_limit(installed):
    for folder in ("var/lib/rpm", "usr/lib/sysimage/rpm"):
        for name in ("rpmdb.sqlite", "Packages.db", "Packages"):
            assert is_db_path(f"{folder}/{name}")
            assert wanted_db(f"{folder}/{name}", 100 << 20)
    assert not is_db_path("var/lib/rpm/Basenames") and not is_db_path("opt/rpmdb.sqlite")
    assert not wanted_db("var/lib/dpkg/info/x.md5sums", 100 << 20)
    db = PackageDb()
    db.add_db("usr/lib/sysimage/rpm/rpmdb.sqlite", installed.sqlite)
    content = (installed.root / FILES[0]).read_bytes()
    assert db.algorithms(FILES[0]) == {"sha256"}
    assert db.vouches(FILES[0], {"sha256": hashlib.sha256(content).hexdigest()})
    assert not db.vouches(FILES[0], {"sha256": hashlib.sha256(content + b"#").hexdigest()})


# -- end to end: an image built on an rpm base ----------------------------------------------


def _scan_oci(tmp: Path, layers: list[bytes], rules: Path) -> dict:
    write_oci_layout(tmp / "oci", [(layer, "gzip") for layer in layers])
    ref = f"oci:{tmp / 'oci'}:v1"
    code, doc, err = run_cli(["scan", "image", ref, "--rules", str(rules), *FLAGS])
    assert code == 1 and doc is not None, err
    return {f["secret"]: f for f in doc["findings"] if f["rule_id"] == RULE_ID}


@pytest.mark.parametrize(
    "db_path",
    [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages.db",
    ],
)
def test_rpm_installed_file_is_vendor_and_an_edited_one_is_not(
    installed, tmp_path, image_rules, db_path
):
    name = db_path.rsplit("/", 1)[1]
    db = {
        "rpmdb.sqlite": lambda: installed.sqlite,
        "Packages": lambda: berkeley_db(tmp_path, header_blobs(installed), "<"),
        "Packages.db": lambda: ndb(header_blobs(installed)),
    }[name]()
    base = [(p, (installed.root / p).read_bytes()) for p in FILES] + [(db_path, db)]
    other = "opt/demo/other.conf"
    edited = (installed.root / other).read_bytes() + b"debug = true\n"  # edited after install
    found = _scan_oci(tmp_path, [tar_bytes(base), tar_bytes([(other, edited)])], image_rules)

    app = found[installed.tokens["opt/demo/app.conf"]]
    [loc] = app["locations"]
    assert (loc["path"], loc["state"], loc.get("vendor")) == ("opt/demo/app.conf", "present", True)
    assert app["confidence"] == "low"  # kept, ranked low
    by_layer = {loc["layer_index"]: loc for loc in found[installed.tokens[other]]["locations"]}
    assert by_layer[0]["vendor"] is True and by_layer[0]["state"] == "overwritten"
    assert not by_layer[1].get("vendor") and by_layer[1]["state"] == "present"
    assert found[installed.tokens[other]]["confidence"] != "low"


# -- hostile bytes ------------------------------------------------------------------------


def test_truncated_or_corrupt_databases_give_no_records(installed):
    blobs = header_blobs(installed)
    data = installed.sqlite
    full = set(rpmdb.records("rpmdb.sqlite", data))
    for cut in (0, 50, 100, 4095):  # not even the schema page
        assert rpmdb.records("rpmdb.sqlite", data[:cut]) == []
    for cut in range(4096, len(data), 4096):  # a cut never invents a record
        assert set(rpmdb.records("rpmdb.sqlite", data[:cut])) <= full
    smashed = data[:4096] + bytes(len(data) - 4096)  # every page after the schema zeroed
    assert rpmdb.records("rpmdb.sqlite", smashed) == []
    packages = ndb(blobs)
    assert rpmdb.records("Packages.db", packages[:-1]) == []
    assert rpmdb.records("Packages.db", packages[:4096] + bytes(16) + packages[4112:]) == []
    assert rpmdb.records("Packages", bytes(8192)) == []
    assert rpmdb.records("Unknown", data) == []
    for junk in (b"", b"\xff" * 8, struct.pack(">II", 1 << 30, 1 << 30), blobs[0][:100]):
        assert rpmdb.header_records(junk) == []


def _sqlite_db(*statements: str) -> bytes:
    conn = sqlite3.connect(":memory:")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "schema",
    [
        # a view that never ends: rejected before it runs (and the step budget would stop it)
        "CREATE VIEW Packages AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
        "FROM n) SELECT i AS hnum, zeroblob(1000000) AS blob FROM n",
        # a computed column making huge blobs out of nothing
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob AS (zeroblob(200000000)))",
        "CREATE TABLE Other (x)",
    ],
)
def test_hostile_sqlite_schemas_give_no_records(schema):
    statements = [schema]
    if "CREATE TABLE Packages" in schema:
        statements.append("INSERT INTO Packages (hnum) VALUES (1)")
    assert rpmdb.records("rpmdb.sqlite", _sqlite_db(*statements)) == []


@st.composite
def _mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        how = draw(st.sampled_from(["flip", "cut", "insert"]))
        if how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@pytest.fixture(scope="module")
def samples(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Valid inputs for the fuzz test to mutate: one per backend, and one header blob."""
    blobs = header_blobs(installed)
    out = {"rpmdb.sqlite": installed.sqlite, "Packages.db": ndb(blobs), "header": blobs[0]}
    if shutil.which("db_load"):
        out["Packages"] = berkeley_db(tmp_path_factory.mktemp("bdb"), blobs, "<")
    return out


@settings(deadline=None)  # a real rpm database parse can take a while
@given(data=st.data())
def test_fuzz_rpm_databases_never_raise(samples, data):
    name = data.draw(st.sampled_from(sorted(samples)))
    raw = data.draw(_mutated(samples[name]) | st.binary(max_size=4096))
    got = rpmdb.header_records(raw) if name == "header" else rpmdb.records(name, raw)
    assert all(path and not path.startswith("/") and algo for path, algo, _ in got)
