"""The streaming tar reader against tarfile as the oracle, its strictness, and fuzzing.

Archives are built in memory by tarfile in each format; the reader must list the same members
(name, kind, size, link target) with the same bytes. Corrupt inputs must raise TarError and
nothing else. The hypothesis budget follows tests/hardening/conftest.py: small by default,
large under ``HYPOTHESIS_PROFILE=fuzz``.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from leakscan.sources.image import tarstream
from leakscan.sources.image.interface import ImageError
from leakscan.sources.image.layer import (
    DIR,
    FILE,
    HARDLINK,
    OTHER,
    SYMLINK,
    Entry,
    iter_layer,
)
from leakscan.sources.image.tarstream import Kind, TarError, iter_members
from tests.support.fuzz import mutated

pytestmark = pytest.mark.timeout(300)

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}

# -- building archives and reading them both ways ---------------------------------------------

Spec = tuple[str, bytes, str, bytes]  # name, type, linkname, data


def build(fmt: int, members: list[Spec], **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, **kwargs) as tar:
        for name, kind, linkname, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = linkname
            if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
                info.devmajor, info.devminor = 1, 3
            has_data = kind in (tarfile.REGTYPE, tarfile.CONTTYPE)
            info.size = len(data) if has_data else 0
            tar.addfile(info, io.BytesIO(data) if has_data else None)
    return buf.getvalue()


def _oracle_kind(info: tarfile.TarInfo) -> Kind:
    if info.type == tarfile.GNUTYPE_SPARSE:
        return Kind.OTHER
    for test, kind in (
        (info.isreg, Kind.FILE),
        (info.islnk, Kind.HARDLINK),
        (info.issym, Kind.SYMLINK),
        (info.ischr, Kind.CHAR),
        (info.isblk, Kind.BLOCK),
        (info.isdir, Kind.DIR),
        (info.isfifo, Kind.FIFO),
    ):
        if test():
            return kind
    return Kind.OTHER


def oracle(raw: bytes) -> list[tuple[str, Kind, int, str, bytes | None]]:
    """What tarfile (in stream mode, as layer.py used it) reads."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r|") as tar:
        for info in tar:
            kind = _oracle_kind(info)
            data = None
            if kind is Kind.FILE:
                member = tar.extractfile(info)
                assert member is not None
                data = member.read()
            size = info.size if kind in (Kind.FILE, Kind.OTHER) else 0
            out.append((info.name, kind, size, info.linkname, data))
    return out


def ours(raw: bytes, stream: Any = None) -> list[tuple[str, Kind, int, str, bytes | None]]:
    out = []
    for m in iter_members(stream if stream is not None else io.BytesIO(raw)):
        data = m.content.read() if m.content is not None else None
        assert (m.content is not None) == (m.kind is Kind.FILE)
        out.append((m.name, m.kind, m.size, m.linkname, data))
    return out


def same_as_tarfile(raw: bytes) -> list[tuple[str, Kind, int, str, bytes | None]]:
    expected = oracle(raw)
    assert ours(raw) == expected
    return expected


class Trickle:
    """A stream that hands out at most a few bytes per read, like a slow socket."""

    def __init__(self, raw: bytes, most: int = 7) -> None:
        self._raw = io.BytesIO(raw)
        self._most = most
        self.calls = 0

    def read(self, n: int) -> bytes:
        self.calls += 1
        return self._raw.read(min(n, 1 + self.calls % self._most))


def patch_header(raw: bytes, at: int, start: int, field: bytes) -> bytes:
    """Replace bytes of the header at ``at`` and fix its checksum."""
    block = bytearray(raw[at : at + 512])
    block[start : start + len(field)] = field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return raw[:at] + bytes(block) + raw[at + 512 :]


R, D, S, H = tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
LONG_DIR = "d" * 90 + "/" + "e" * 60  # > 100 bytes: ustar prefix + name
VERY_LONG = "/".join(["segment" * 6] * 7)  # > 255 bytes: GNU L or PAX path only
MEMBERS: list[Spec] = [
    ("etc", D, "", b""),
    ("etc/passwd", R, "", b"root:x:0:0\n"),
    ("empty", R, "", b""),
    ("block512", R, "", b"a" * 512),
    ("block1024", R, "", b"b" * 1024),
    ("odd513", R, "", b"c" * 513),
    ("big", R, "", bytes(range(256)) * 1200),  # beyond one read-ahead chunk
    ("huge", R, "", b"h" * (tarstream.SKIP_CHUNK + 4321)),  # beyond one skip read
    (LONG_DIR + "/f.txt", R, "", b"long\n"),
    ("caf\u00e9/\u65e5\u672c/\u00fcber.txt", R, "", "non-ascii \u00e9\n".encode()),
    ("link", S, "etc/passwd", b""),
    ("hard", H, "etc/passwd", b""),
    ("fifo", tarfile.FIFOTYPE, "", b""),
    ("dev/null", tarfile.CHRTYPE, "", b""),
    ("dev/sda", tarfile.BLKTYPE, "", b""),
    ("app/.wh..wh..opq", R, "", b""),
    ("app/.wh.gone", R, "", b""),
]
LONG_MEMBERS: list[Spec] = [
    (VERY_LONG, R, "", b"very long\n"),
    (VERY_LONG + "/dir", D, "", b""),
    ("longlink", S, "t" * 300, b""),
    ("longhard", H, VERY_LONG, b""),
]


# -- agreement with tarfile -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_members_match_tarfile(fmt: str) -> None:
    members = MEMBERS + (LONG_MEMBERS if fmt != "ustar" else [])
    raw = build(FORMATS[fmt], members)
    got = same_as_tarfile(raw)
    assert len(got) == len(members)
    names = [g[0] for g in got]
    assert VERY_LONG in names or fmt == "ustar"
    assert LONG_DIR + "/f.txt" in names and "caf\u00e9/\u65e5\u672c/\u00fcber.txt" in names
    assert ("link", Kind.SYMLINK, 0, "etc/passwd", None) in got


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_trickling_stream_reads_the_same(fmt: str) -> None:
    raw = build(FORMATS[fmt], MEMBERS[:8] + (LONG_MEMBERS if fmt != "ustar" else []))
    assert ours(raw, Trickle(raw)) == oracle(raw)


def test_partly_read_members_are_skipped() -> None:
    raw = build(tarfile.PAX_FORMAT, MEMBERS + LONG_MEMBERS)
    expected = {name: data for name, _, _, _, data in oracle(raw)}
    seen = []
    for i, m in enumerate(iter_members(io.BytesIO(raw))):
        seen.append(m.name)
        if m.content is not None and i % 2:
            assert m.content.read(3) + m.content.read(5) == (expected[m.name] or b"")[:8]
    assert seen == list(expected)


def test_content_reads_stop_at_the_member_size() -> None:
    raw = build(tarfile.GNU_FORMAT, [("a", R, "", b"12345"), ("b", R, "", b"678")])
    members = iter_members(io.BytesIO(raw))
    a = next(members)
    assert a.content is not None
    assert a.content.read(100) == b"12345" and a.content.read() == b"" and a.content.readable()
    b = next(members)
    assert b.content is not None and b.content.read() == b"678"
    with pytest.raises(ValueError, match="after the next one"):
        a.content.read()


def test_global_pax_header_is_skipped() -> None:
    raw = build(tarfile.PAX_FORMAT, MEMBERS[:3], pax_headers={"comment": "built by test"})
    assert raw[156:157] == tarfile.XGLTYPE
    same_as_tarfile(raw)


def test_pax_records_tarfile_writes_for_odd_names() -> None:
    # a name that is not valid UTF-8: tarfile stores it with hdrcharset=BINARY
    name = b"bin\xffary".decode("utf-8", "surrogateescape")
    raw = build(tarfile.PAX_FORMAT, [(name, R, "", b"x"), ("y" * 120, S, "\u00e9" * 60, b"")])
    assert b"hdrcharset=BINARY" in raw
    assert [m[0] for m in same_as_tarfile(raw)] == [name, "y" * 120]


def test_v7_headers() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("olddir/", R, "", b""), ("old.txt", R, "", b"v7\n")])
    for at in (0, 512):  # strip the ustar magic, version, owner names: a v7 header
        raw = patch_header(raw, at, 257, bytes(512 - 257))
        raw = patch_header(raw, at, 156, b"\0")
    got = same_as_tarfile(raw)
    assert [(m[0], m[1]) for m in got] == [("olddir", Kind.DIR), ("old.txt", Kind.FILE)]


def test_signed_checksum_is_accepted() -> None:
    raw = build(tarfile.GNU_FORMAT, [("\u00e9t\u00e9", R, "", b"sun")])
    block = bytearray(raw[:512])
    block[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in block)
    block[148:156] = b"%06o\0 " % signed
    raw = bytes(block) + raw[512:]
    assert same_as_tarfile(raw)[0][4] == b"sun"


def test_unknown_types_are_other_and_their_data_is_skipped() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("label", R, "", b"z" * 700), ("next", R, "", b"n")])
    raw = patch_header(raw, 0, 156, b"V")
    got = same_as_tarfile(raw)
    assert got == [("label", Kind.OTHER, 700, "", None), ("next", Kind.FILE, 1, "", b"n")]


def test_old_gnu_sparse_is_other_and_skipped_with_its_extension_blocks() -> None:
    raw = build(tarfile.GNU_FORMAT, [("sparse", R, "", b"s" * 600), ("next", R, "", b"n")])
    header = bytearray(raw[:512])
    header[482] = 1  # one extension block follows the header (and says no more follow)
    raw = patch_header(bytes(header), 0, 156, b"S") + bytes(512) + raw[512:]
    got = ours(raw)
    assert got == [("sparse", Kind.OTHER, 600, "", None), ("next", Kind.FILE, 1, "", b"n")]


# -- sizes: base-256 and PAX overrides --------------------------------------------------------


def test_base256_size_field() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("f", R, "", b"q" * 1500), ("g", R, "", b"r")])
    raw = patch_header(raw, 0, 124, b"\x80" + (1500).to_bytes(11, "big"))
    assert raw[124] == 0x80
    assert same_as_tarfile(raw)[0] == ("f", Kind.FILE, 1500, "", b"q" * 1500)


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_sizes_beyond_8_gib_are_read_then_found_missing(fmt: str) -> None:
    info = tarfile.TarInfo("big.bin")
    info.size = 9 * 1024**3  # GNU: base-256 size field; PAX: a size record
    raw = info.tobuf(FORMATS[fmt], "utf-8", "surrogateescape") + b"start" + bytes(507)
    members = iter_members(io.BytesIO(raw))
    m = next(members)
    assert (m.name, m.kind, m.size) == ("big.bin", Kind.FILE, 9 * 1024**3)
    assert m.content is not None and m.content.read(5) == b"start"
    with pytest.raises(TarError, match="unexpected end of data"):
        next(members)


@pytest.mark.parametrize(
    "field",
    [b"\xff" + bytes(10) + b"\x01", b"\x80" + b"\xff" * 11, b"-0000000012\0", b"zzzz\0"],
    ids=["negative-base256", "absurd", "negative-octal", "not-a-number"],
)
def test_bad_sizes_are_errors(field: bytes) -> None:
    raw = patch_header(build(tarfile.GNU_FORMAT, [("f", R, "", b"x")]), 0, 124, field)
    with pytest.raises(TarError, match="invalid member size"):
        list(iter_members(io.BytesIO(raw)))


# -- the end of an archive --------------------------------------------------------------------


def test_end_of_archive_variants() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("a", R, "", b"abc")])
    body = raw[:1024]
    assert raw[1024:] == bytes(len(raw) - 1024)
    expected = [("a", Kind.FILE, 3, "", b"abc")]
    assert ours(body + bytes(512)) == expected  # one zero block
    assert ours(body) == expected  # ends cleanly between members
    assert ours(body + bytes(1024) + b"trailing junk") == expected  # not read past the end
    assert ours(b"") == [] and ours(bytes(10240)) == []


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (700, "unexpected end of data"),  # inside the first member's data
        (1536 + 100, "truncated header"),  # inside the second header (600 bytes pad to 1024)
        (100, "truncated header"),  # inside the first header
    ],
)
def test_truncated_archives_are_errors(cut: int, message: str) -> None:
    raw = build(tarfile.USTAR_FORMAT, [("a", R, "", b"x" * 600), ("b", R, "", b"y")])
    with pytest.raises(TarError, match=message):
        ours(raw[:cut])


def test_unread_truncated_data_is_an_error_when_skipped() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("a", R, "", b"x" * 5000)])[:2000]
    members = iter_members(io.BytesIO(raw))
    next(members)
    with pytest.raises(TarError, match="unexpected end of data"):
        next(members)


def test_bad_checksum_on_a_non_zero_block_is_an_error() -> None:
    raw = bytearray(build(tarfile.PAX_FORMAT, [("a" * 200, R, "", b"x"), ("b", R, "", b"y")]))
    assert raw[2048:2049] == b"b"  # PAX header, its records, the first header, its data
    raw[2048 + 3] ^= 0x20
    with pytest.raises(TarError, match="bad checksum"):
        ours(bytes(raw))
    with pytest.raises(TarError, match="bad checksum"):
        ours(b"\x01" + bytes(511))


@pytest.mark.parametrize(
    "records",
    [b"5 x=\n", b"8 path=a\n", b"0 path=a\n", b"x path=a\n", b"9 patha\n", b"99 path=a\n"],
)
def test_malformed_pax_records_are_errors(records: bytes) -> None:
    if records == b"5 x=\n":  # the shortest valid record: accepted
        ours(_pax_archive(records))
        return
    with pytest.raises(TarError, match="invalid PAX record"):
        ours(_pax_archive(records))


def _pax_archive(records: bytes) -> bytes:
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(records)
    header = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
    padded = records + bytes(-len(records) % 512)
    return header + padded + build(tarfile.USTAR_FORMAT, [("f", R, "", b"1")])


def test_extended_header_needs_a_member_after_it() -> None:
    raw = build(tarfile.PAX_FORMAT, [("p" * 300, R, "", b"x")])
    with pytest.raises(TarError, match="after an extended header"):
        ours(raw[:1024] + bytes(1024))
    with pytest.raises(TarError, match="truncated header"):
        ours(raw[:1024])


def test_invalid_pax_size_is_an_error() -> None:
    with pytest.raises(TarError, match="invalid size"):
        ours(_pax_archive(b"12 size=-12\n"))


# -- through iter_layer: the layer's messages are unchanged ------------------------------------


def test_layer_entries_and_messages() -> None:
    raw = build(tarfile.PAX_FORMAT, [*MEMBERS, ("../escape", R, "", b"e")])
    entries = list(iter_layer(io.BytesIO(raw), "L"))
    kinds = {getattr(e, "path", None): getattr(e, "kind", None) for e in entries}
    assert kinds["etc"] == DIR and kinds["etc/passwd"] == FILE and kinds["link"] == SYMLINK
    assert kinds["hard"] == HARDLINK and kinds["fifo"] == OTHER
    assert kinds["app"] == "opaque" and kinds["app/gone"] == "whiteout"
    assert any(getattr(e, "where", None) == "../escape" for e in entries)
    assert list(iter_layer(io.BytesIO(b""), "L")) == []
    with pytest.raises(ImageError, match=r"^L: not a tar layer: bad checksum"):
        list(iter_layer(io.BytesIO(b"not a tar" * 100), "L"))
    two = build(tarfile.USTAR_FORMAT, [("a", R, "", b"x"), ("b", R, "", b"y")])
    with pytest.raises(ImageError, match=r"^L: corrupt or truncated layer: truncated header"):
        list(iter_layer(io.BytesIO(two[: 1024 + 100]), "L"))


def test_layer_content_read_past_the_end_is_an_image_error() -> None:
    raw = build(tarfile.USTAR_FORMAT, [("f", R, "", b"x" * 5000)])[:3000]
    entry = next(iter_layer(io.BytesIO(raw), "L"))
    assert isinstance(entry, Entry) and entry.content is not None
    with pytest.raises(ImageError, match=r"^L: corrupt or truncated layer: unexpected end"):
        entry.content.read()


# -- hypothesis: round trips and corrupt inputs -----------------------------------------------

_segment = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\0/"), min_size=1, max_size=30
)
_kinds = st.sampled_from(
    [R, R, R, D, S, H, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.CONTTYPE]
)
_data = st.one_of(
    st.binary(max_size=1200),
    st.sampled_from([511, 512, 513, 1024, 70_000]).map(lambda n: b"\x07" * n),
)


@st.composite
def member_lists(draw: Any) -> tuple[int, list[Spec]]:
    fmt = draw(st.sampled_from(sorted(FORMATS.values())))
    most = 2 if fmt == tarfile.USTAR_FORMAT else 12
    members = []
    for _ in range(draw(st.integers(0, 8))):
        name = "/".join(draw(st.lists(_segment, min_size=1, max_size=most)))
        kind = draw(_kinds)
        link = draw(_segment) if kind in (S, H) else ""
        data = draw(_data) if kind in (R, tarfile.CONTTYPE) else b""
        members.append((name, kind, link, data))
    return fmt, members


@given(member_lists())
def test_round_trips_through_tarfile(case: tuple[int, list[Spec]]) -> None:
    fmt, members = case
    try:
        raw = build(fmt, members)
    except (ValueError, UnicodeError):
        reject()  # ustar cannot hold this name
    assert len(same_as_tarfile(raw)) == len(members)


def _valid_archives() -> list[bytes]:
    out = [build(tarfile.USTAR_FORMAT, MEMBERS[:6] + MEMBERS[8:11])]
    return out + [build(f, MEMBERS[:6] + LONG_MEMBERS[:3]) for f in FORMATS.values() if f]


_VALID = _valid_archives()


def corrupted() -> st.SearchStrategy[bytes]:
    return mutated(st.sampled_from(_VALID), min_ops=1, max_cut=600, max_insert=64, zero_blocks=True)


@given(raw=st.one_of(st.binary(max_size=4096), corrupted()), read_content=st.booleans())
def test_corrupt_input_raises_only_tar_error(raw: bytes, read_content: bool) -> None:
    try:
        for m in iter_members(Trickle(raw, most=4096) if read_content else io.BytesIO(raw)):
            if read_content and m.content is not None:
                while m.content.read(333):
                    pass
    except TarError as exc:
        assert "\n" not in str(exc)
