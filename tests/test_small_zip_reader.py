"""A small runpack zip is read in one pass over its bytes when it reads cleanly: for any zip,
that must give what the general reader (zipfile, the structure checks, the stream) gives from
the open file, problems, messages and errors included."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from gait.errors import InvalidInput
from gait.runpack.archive import Members, read_members, read_members_from
from gait.runpack.verify import VerifyOptions, verify_runpack
from gait.runpack.writer import write_record_input

_TIMESTAMP = struct.pack("<HHBL", 0x5455, 5, 1, 0)


def _members(tmp_path: Path) -> list[tuple[bytes, bytes]]:
    doc = {
        "run": {"run_id": "run_reader", "created_at": "2026-01-01T00:00:00Z"},
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"q": "q"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"n": 1}}],
    }
    path = write_record_input(doc, tmp_path / "base.zip").path
    with zipfile.ZipFile(path) as archive:
        return [(i.filename.encode(), archive.read(i)) for i in archive.infolist()]


def _zip(entries: list[dict], *, comment: bytes = b"", order: list[int] | None = None) -> bytes:
    """A zip written field by field, so each field can say something else than it should."""
    body, central = bytearray(), []
    for e in entries:
        data, method = e["data"], e.get("method", 8)
        if method == 8:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            packed = packer.compress(data) + packer.flush()
        else:
            packed = data
        packed = e.get("packed", packed)
        crc, flags = zlib.crc32(data), e.get("flags", 0)
        lflags = e.get("lflags", flags)
        sizes = (0, 0, 0) if lflags & 8 else (crc, len(packed), len(data))
        lname, extra = e.get("lname", e["name"]), e.get("extra", b"")
        offset = len(body) + e.get("shift", 0)
        body += struct.pack(
            "<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, lflags, e.get("lmethod", method), 0, 33,
            e.get("lcrc", sizes[0]), sizes[1], sizes[2], len(lname), len(extra),
        )  # fmt: skip
        body += lname + extra + packed
        if lflags & 8:
            body += struct.pack("<4sLLL", b"PK\x07\x08", crc, len(packed), len(data))
        central.append(
            struct.pack(
                "<4s4B4HL2L5H2L",
                b"PK\x01\x02",
                20,
                e.get("system", 3),
                e.get("version", 20),
                0,
                flags,
                method,
                0,
                33,
                e.get("crc", crc),
                len(packed),
                e.get("size", len(data)),
                len(e["name"]),
                len(extra),
                0,
                0,
                0,
                e.get("attr", 0o100644 << 16),
                offset,
            )  # fmt: skip
            + e["name"]
            + extra
        )
    cd = b"".join(central[i] for i in (order if order is not None else range(len(central))))
    count = len(order) if order is not None else len(central)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(cd), len(body), len(comment)
    )
    return bytes(body) + cd + end + comment


def _variants(members: list[tuple[bytes, bytes]]) -> dict[str, bytes]:
    def entries(index: int = -1, **change: object) -> list[dict]:
        out = [{"name": n, "data": d} for n, d in members]
        for i, e in enumerate(out):
            if index in (-2, i):  # -2: every entry
                e.update(change)
        return out

    manifest = dict(members)[b"manifest.json"]
    return {
        "plain": _zip(entries()),
        "timestamps_and_descriptors": _zip(entries(-2, extra=_TIMESTAMP, flags=8)),
        "descriptor_in_local_header_only": _zip(entries(1, lflags=8)),
        "stored": _zip(entries(-2, method=0)),
        "archive_comment": _zip(entries(), comment=b"note"),
        "zip64_extra": _zip(entries(1, extra=struct.pack("<HHQ", 1, 8, len(manifest)))),
        "bad_extra": _zip(entries(1, extra=struct.pack("<HH", 0x5455, 40))),
        "local_name_differs": _zip(entries(1, lname=b"manifest.jsoN")),
        "local_method_differs": _zip(entries(1, lmethod=0)),
        "local_crc_differs": _zip(entries(1, lcrc=1)),
        "crc_differs": _zip(entries(1, crc=5)),
        "size_differs": _zip(entries(1, size=len(manifest) + 1)),
        "deflate_truncated": _zip(entries(1, packed=zlib.compress(manifest)[2:-10])),
        "encrypted": _zip(entries(1, flags=1)),
        "symlink_mode": _zip(entries(1, attr=0o120777 << 16)),
        "dos_directory": _zip(entries(1, attr=(0o100644 << 16) | 0x10)),
        "version_64": _zip(entries(1, version=64)),
        "offsets_out_of_order": _zip(entries(), order=[1, 0, 2, 3, 4]),
        "one_entry_twice": _zip(entries(), order=[0, 1, 1, 2, 3, 4]),
        "header_offset_shifted": _zip(entries(2, shift=1)),
        "nul_in_name": _zip(entries() + [{"name": b"x\x00.txt", "data": b"1"}]),
        "utf8_name": _zip(entries() + [{"name": "é.txt".encode(), "data": b"1", "flags": 0x800}]),
        "duplicate_name": _zip(entries() + [entries()[1]]),
        "dotdot_name": _zip(entries() + [{"name": b"../x", "data": b"1"}]),
        "directory": _zip(entries() + [{"name": b"d/", "data": b"", "method": 0}]),
        "big_member": _zip(entries() + [{"name": b"big.txt", "data": b"a" * 300_000}]),
    }


def _general(path: Path) -> Members | str:
    """The general reader's answer: read from the open file, never from memory."""
    try:
        with open(path, "rb") as handle:
            return read_members_from(handle, str(path))
    except InvalidInput as exc:
        return f"{exc.code}: {exc.message}"


def _fast(path: Path) -> Members | str:
    try:
        return read_members(path)
    except InvalidInput as exc:
        return f"{exc.code}: {exc.message}"


def test_every_variant_reads_as_the_general_reader_reads_it(tmp_path: Path) -> None:
    variants = _variants(_members(tmp_path))
    for name, data in variants.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        assert _fast(path) == _general(path), name
    # the variants reach both readers' findings, not only clean reads
    assert not isinstance(_fast(tmp_path / "plain.zip"), str)
    problems = _fast(tmp_path / "symlink_mode.zip")
    assert isinstance(problems, Members) and problems.problems
    assert isinstance(_fast(tmp_path / "version_64.zip"), str)


@pytest.mark.parametrize("flip", range(0, 400, 7))
def test_flipped_byte_in_the_directory_reads_alike(tmp_path: Path, flip: int) -> None:
    data = bytearray(_variants(_members(tmp_path))["timestamps_and_descriptors"])
    at = len(data) - 1 - flip % (len(data) - data.rfind(b"PK\x01\x02") + 400)
    data[at] ^= 0x10
    path = tmp_path / "flipped.zip"
    path.write_bytes(bytes(data))
    assert _fast(path) == _general(path)


def test_reference_style_zip_verifies(tmp_path: Path) -> None:
    """Data descriptors and timestamp extra fields (as Go's archive/zip writes them) read in
    one pass and verify as the writer's own zip does."""
    members = _members(tmp_path)
    plain, go_like = tmp_path / "plain.zip", tmp_path / "go_like.zip"
    plain.write_bytes(_zip([{"name": n, "data": d} for n, d in members]))
    go_like.write_bytes(
        _zip([{"name": n, "data": d, "extra": _TIMESTAMP, "flags": 8} for n, d in members])
    )
    reports = [verify_runpack(p, VerifyOptions()).to_json() for p in (plain, go_like)]
    assert reports[0]["ok"] and reports[0]["checks"] == reports[1]["checks"]


@pytest.mark.parametrize("enabled", [True, False])
def test_verify_leaves_the_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    """verify pauses the cyclic collector while it parses, and gives it back as it was, also
    when the input is refused."""
    import gc

    good = tmp_path / "good.zip"
    good.write_bytes(_zip([{"name": n, "data": d} for n, d in _members(tmp_path)]))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        assert verify_runpack(good, VerifyOptions()).ok
        assert gc.isenabled() is enabled
        with pytest.raises(InvalidInput):
            verify_runpack(bad, VerifyOptions())
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
