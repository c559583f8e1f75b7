"""rpm package databases: the digest rpm recorded for each file it installed.

Every rpm backend stores one *header blob* per installed package; three containers are read:

- ``rpmdb.sqlite`` (rpm >= 4.16: RHEL/UBI 9, Fedora, CentOS Stream, Rocky/Alma 9): table
  ``Packages(hnum, blob)``. Opened in memory (``Connection.deserialize``, never a temp file),
  read only, with a budget of SQLite steps and bytes;
- ``Packages.db`` (ndb, SUSE): slot pages (``Slot``: package index, block offset and count),
  then blocks ``BlbS`` head, blob, padding, ``BlbE`` tail (rpm's ``lib/backend/ndb/rpmpkg.c``);
- ``Packages`` (Berkeley DB hash, RHEL/CentOS 7-8): hash pages whose values live on chains of
  overflow pages.

A header blob (big-endian) is ``il``, ``dl``, ``il`` index entries (tag, type, offset, count)
and ``dl`` bytes of data. The file list is BASENAMES, DIRNAMES and DIRINDEXES; FILEDIGESTS
holds one hex digest per file (empty for directories, links, ghosts), FILEDIGESTALGO names
the algorithm (absent: md5). The bytes are untrusted (an image is anyone's): every offset and
count is checked, every walk visits each byte at most once, and a database that does not
parse gives no records (a header that does not parse: no records for that package).
"""

from __future__ import annotations

import sqlite3
import struct
from typing import cast

from leakscan.sources.image.layer import safe_path

#: (path relative to the image root, hashlib algorithm name, lowercase hex digest)
Record = tuple[str, str, str]

BACKENDS = ("rpmdb.sqlite", "Packages.db", "Packages")  # file names, by backend

# header tags and types (rpm's rpmtag.h)
_REGION_TAGS = range(61, 65)  # HEADERIMAGE, HEADERSIGNATURES, HEADERIMMUTABLE, HEADERREGIONS
_FILEMODES, _FILEDIGESTS, _DIRINDEXES, _BASENAMES, _DIRNAMES = 1030, 1035, 1116, 1117, 1118
_FILEDIGESTALGO = 5011
_INT16, _INT32, _STRING_ARRAY = 3, 4, 8
_WANTED = {
    _FILEMODES: _INT16,
    _FILEDIGESTS: _STRING_ARRAY,
    _DIRINDEXES: _INT32,
    _BASENAMES: _STRING_ARRAY,
    _DIRNAMES: _STRING_ARRAY,
    _FILEDIGESTALGO: _INT32,
}
#: PGPHASHALGO numbers -> (hashlib name, hex length)
_ALGOS = {
    1: ("md5", 32),
    2: ("sha1", 40),
    8: ("sha256", 64),
    9: ("sha384", 96),
    10: ("sha512", 128),
    11: ("sha224", 56),
}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_S_IFMT, _S_IFREG = 0o170000, 0o100000


def records(name: str, data: bytes) -> list[Record]:
    """The file digests of every package in an rpm database (``name``: one of BACKENDS)."""
    read = {"rpmdb.sqlite": _sqlite_blobs, "Packages.db": _ndb_blobs, "Packages": _bdb_blobs}
    blobs = read[name](data) if name in read else []
    return [record for blob in blobs for record in header_records(blob)]


def header_records(blob: bytes) -> list[Record]:
    """The (path, algorithm, digest) of each regular file one rpm header lists."""
    tags = _header_tags(blob)
    if tags is None:
        return []
    algo_tag = _ints(tags, _FILEDIGESTALGO)
    algo = _ALGOS.get(algo_tag[0] if algo_tag else 1)  # absent: md5 (rpm < 4.6)
    names, dirs, digests = (_strings(tags, t) for t in (_BASENAMES, _DIRNAMES, _FILEDIGESTS))
    indexes, modes = _ints(tags, _DIRINDEXES), _ints(tags, _FILEMODES)
    count = len(names)
    if algo is None or not (len(indexes) == len(digests) == count) or len(modes) not in (0, count):
        return []
    name, size = algo
    out: list[Record] = []
    for i in range(count):
        digest, index = digests[i], indexes[i]
        if len(digest) != size or not _HEX.issuperset(digest) or index >= len(dirs):
            continue  # no digest: a directory, a link, a ghost
        if modes and modes[i] & _S_IFMT != _S_IFREG:
            continue
        path = safe_path((dirs[index] + names[i]).decode("utf-8", "surrogateescape"))
        if path:  # stored absolute; None when it climbs out (../)
            out.append((path, name, digest.decode("ascii").lower()))
    return out


def _strings(tags: dict[int, list[int] | list[bytes]], tag: int) -> list[bytes]:
    return cast("list[bytes]", tags.get(tag, []))  # _WANTED made sure of the type


def _ints(tags: dict[int, list[int] | list[bytes]], tag: int) -> list[int]:
    return cast("list[int]", tags.get(tag, []))


def _header_tags(blob: bytes) -> dict[int, list[int] | list[bytes]] | None:
    """The wanted tags of a header blob (a later entry of a tag replaces an earlier one)."""
    if len(blob) < 8:
        return None
    il, dl = struct.unpack_from(">II", blob, 0)
    store = 8 + 16 * il
    if store + dl > len(blob):
        return None
    data = blob[store : store + dl]
    tags: dict[int, list[int] | list[bytes]] = {}
    for tag, kind, offset, count in struct.iter_unpack(">IIII", blob[8:store]):
        if tag in _REGION_TAGS or _WANTED.get(tag) != kind:
            continue
        values = _values(data, kind, offset, count)
        if values is None:
            return None
        tags[tag] = values
    return tags


def _values(data: bytes, kind: int, offset: int, count: int) -> list[int] | list[bytes] | None:
    if kind == _STRING_ARRAY:
        if count > len(data) - offset:  # each string takes a byte at least
            return None
        parts = data[offset:].split(b"\0", count)
        return parts[:count] if len(parts) > count else None
    size = 2 if kind == _INT16 else 4
    if offset > len(data) or count > (len(data) - offset) // size:
        return None
    return list(struct.unpack_from(f">{count}{'H' if size == 2 else 'I'}", data, offset))


# -- sqlite -----------------------------------------------------------------------------------

_SQLITE_MAGIC = b"SQLite format 3\0"
_STEPS_PER_CALL = 1000  # SQLite virtual machine steps between two progress-handler calls


def _sqlite_blobs(data: bytes) -> list[bytes]:
    deserialize = getattr(sqlite3.Connection, "deserialize", None)  # Python >= 3.11
    if deserialize is None or len(data) < 100 or not data.startswith(_SQLITE_MAGIC):
        return []
    image = bytearray(data)
    if image[18:20] == b"\x02\x02":  # WAL mode, which an in-memory database cannot open:
        image[18:20] = b"\x01\x01"  # read it as a rollback-journal database (same pages)
    calls = 0
    budget = len(data) // 16 + 10_000  # ~60 steps a byte: reading a real rpmdb takes far fewer

    def over_budget() -> bool:
        nonlocal calls
        calls += 1
        return calls > budget

    conn = sqlite3.connect(":memory:")
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(len(data), 1 << 16))
        deserialize(conn, image)
        del image
        conn.set_progress_handler(over_budget, _STEPS_PER_CALL)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA cell_size_check = ON")
        return _sqlite_rows(conn, len(data))
    except (sqlite3.Error, UnicodeDecodeError, OverflowError):
        return []  # UnicodeDecodeError: an error message quoting a corrupt schema
    finally:
        conn.close()


def _sqlite_rows(conn: sqlite3.Connection, size: int) -> list[bytes]:
    """Every blob of a plain ``Packages`` table; sqlite3.Error for anything else."""
    conn.text_factory = bytes  # names in a hostile schema need not be UTF-8
    found = conn.execute(
        "SELECT type, rootpage FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE"
    ).fetchall()
    kind, root = found[0] if len(found) == 1 else (None, None)
    if kind != b"table" or not isinstance(root, int) or root <= 0:  # views, virtual tables
        raise sqlite3.DatabaseError("no plain Packages table")
    columns = conn.execute("PRAGMA table_xinfo('Packages')").fetchall()
    if b"blob" not in {c[1] for c in columns} or any(c[6] != 0 for c in columns):
        raise sqlite3.DatabaseError("Packages has generated or hidden columns")
    blobs: list[bytes] = []
    total = 0
    for (blob,) in conn.execute("SELECT blob FROM Packages"):
        if isinstance(blob, bytes):
            total += len(blob)
            if total > size:  # stored blobs cannot add up to more than the file
                raise sqlite3.DatabaseError("Packages blobs larger than the database")
            blobs.append(blob)
    return blobs


# -- ndb (SUSE) -------------------------------------------------------------------------------

_NDB_MAGIC, _SLOT_MAGIC = b"RpmP", b"Slot"
_BLOB_HEAD, _BLOB_TAIL = b"BlbS", b"BlbE"
_NDB_PAGE, _NDB_BLOCK = 4096, 16


def _ndb_blobs(data: bytes) -> list[bytes]:
    if len(data) < 32 or data[:4] != _NDB_MAGIC:
        return []
    version, _, npages = struct.unpack_from("<III", data, 4)
    if version != 0 or not 0 < npages <= len(data) // _NDB_PAGE:
        return []
    slots = []
    for off in range(32, npages * _NDB_PAGE, 16):
        if data[off : off + 4] != _SLOT_MAGIC:
            return []
        pkgidx, blkoff, blkcnt = struct.unpack_from("<III", data, off + 4)
        if blkoff:  # 0: a free slot
            slots.append((blkoff, blkcnt, pkgidx))
    blobs: list[bytes] = []
    end = npages * _NDB_PAGE // _NDB_BLOCK  # blocks follow the slot pages and never overlap
    for blkoff, blkcnt, pkgidx in sorted(slots):
        start, stop = blkoff * _NDB_BLOCK, (blkoff + blkcnt) * _NDB_BLOCK
        if blkoff < end or stop > len(data) or blkcnt < 2:
            return []
        end = blkoff + blkcnt
        if data[start : start + 4] != _BLOB_HEAD or data[stop - 4 : stop] != _BLOB_TAIL:
            return []
        idx, _, length = struct.unpack_from("<III", data, start + 4)
        (tail_length,) = struct.unpack_from("<I", data, stop - 8)
        if idx != pkgidx or tail_length != length or blkcnt != (16 + length + 12 + 15) // 16:
            return []
        blobs.append(data[start + 16 : start + 16 + length])
    return blobs


# -- Berkeley DB hash (RHEL/CentOS 7-8) -------------------------------------------------------

_BDB_HASH_MAGIC = 0x061561
_P_HASH_UNSORTED, _P_OVERFLOW, _P_HASHMETA, _P_HASH = 2, 7, 8, 13
_H_KEYDATA, _H_OFFPAGE = 1, 3
_PAGE_HEADER = 26  # lsn, pgno, prev, next, entries, hf_offset, level, type
_DBMETA_CHKSUM = 0x01
_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))  # 512 B .. 64 KB


def _bdb_blobs(data: bytes) -> list[bytes]:
    if len(data) < 512:
        return []
    order = next(
        (o for o in "<>" if struct.unpack_from(o + "I", data, 12)[0] == _BDB_HASH_MAGIC), ""
    )
    if not order or data[24] != 0 or data[25] != _P_HASHMETA or data[26] & _DBMETA_CHKSUM:
        return []  # not a hash database, or encrypted, or with page checksums
    (pagesize,) = struct.unpack_from(order + "I", data, 20)
    (last,) = struct.unpack_from(order + "I", data, 32)
    if pagesize not in _PAGE_SIZES:
        return []
    npages = min(last + 1, len(data) // pagesize)
    seen: set[int] = set()  # overflow pages already read: each holds part of one value only
    blobs: list[bytes] = []
    for base in range(pagesize, npages * pagesize, pagesize):
        if data[base + 25] not in (_P_HASH, _P_HASH_UNSORTED):
            continue
        (entries,) = struct.unpack_from(order + "H", data, base + 20)
        if _PAGE_HEADER + 2 * entries > pagesize:
            return []
        inp = struct.unpack_from(f"{order}{entries}H", data, base + _PAGE_HEADER)
        for i in range(1, entries, 2):  # (key, value) pairs: the values
            start, stop = inp[i], inp[i - 1]  # items fill the page from its end down
            if not _PAGE_HEADER <= start < pagesize:
                return []
            if data[base + start] == _H_OFFPAGE:
                if start + 12 > pagesize:
                    return []
                pgno, length = struct.unpack_from(order + "II", data, base + start + 4)
                blob = _bdb_overflow(data, order, pagesize, npages, pgno, length, seen)
                if blob is None:
                    return []
                blobs.append(blob)
            elif data[base + start] == _H_KEYDATA and start < stop <= pagesize:
                blobs.append(data[base + start + 1 : base + stop])  # small: on the page
    return blobs


def _bdb_overflow(
    data: bytes, order: str, pagesize: int, npages: int, pgno: int, length: int, seen: set[int]
) -> bytes | None:
    """The value stored on the chain of overflow pages that starts at ``pgno``."""
    parts: list[bytes] = []
    got = 0
    while got < length:
        if pgno in seen or not 0 < pgno < npages:
            return None
        seen.add(pgno)
        base = pgno * pagesize
        if data[base + 25] != _P_OVERFLOW:
            return None
        (pgno,) = struct.unpack_from(order + "I", data, base + 16)  # the next page
        (used,) = struct.unpack_from(order + "H", data, base + 22)
        if _PAGE_HEADER + used > pagesize:
            return None
        parts.append(data[base + _PAGE_HEADER : base + _PAGE_HEADER + used])
        got += used
    return b"".join(parts) if got == length else None
