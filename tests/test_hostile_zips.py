"""Hostile zips (issue 11 items 11, 14, 15): members are streamed and bounded, and a zip that
reads differently to different readers is refused with E_VERIFY_ARCHIVE (exit 2), even when
every member's bytes are what the manifest lists. Zips are made by the test, byte by byte."""

from __future__ import annotations

import io
import json
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gait.runpack.writer import write_record_input

EPOCH = (1980, 1, 1, 0, 0, 0)


def _record_input() -> dict:
    return {
        "run": {
            "run_id": "run_hostile",
            "created_at": "2026-03-01T12:00:00Z",
            "env": {"os": "linux", "arch": "x86_64", "runtime": "python"},
            "timeline": [{"event": "start", "ts": "2026-03-01T12:00:00Z"}],
        },
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"query": "q"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"hits": 1}}],
        "refs": {"receipts": []},
    }


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_record_input(_record_input(), tmp_path / "good.zip").path


def _verify(run_gait, path: Path, *extra: str) -> tuple[int, dict]:  # noqa: ANN001
    proc = run_gait("verify", str(path), "--json", *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def _refused(run_gait, path: Path, needle: str) -> dict:  # noqa: ANN001
    code, doc = _verify(run_gait, path)
    assert code == 2, doc
    assert "E_VERIFY_ARCHIVE" in doc["error_codes"], doc
    reasons = " | ".join(m["reason"] for m in doc.get("unsafe_members", []))
    assert needle in reasons, reasons
    return doc


def without_member_name(data: bytes, name: str) -> bytes:
    """``data`` with the one-byte ``name`` of a member dropped (zipfile writes no empty name):
    from its local header and its central entry, the end record's offset and size moved."""
    local, central = _local_offset(data, name), _central_offset(data, name)
    end = data.rfind(b"PK\x05\x06")
    data = _patch(data, end + 12, "<L", struct.unpack_from("<L", data, end + 12)[0] - 1)
    data = _patch(data, end + 16, "<L", struct.unpack_from("<L", data, end + 16)[0] - 1)
    data = _patch(data, central + 28, "<H", 0)
    data = data[: central + 46] + data[central + 47 :]
    data = _patch(data, local + 26, "<H", 0)
    return data[: local + 30] + data[local + 31 :]


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt) :]


def _local_offset(data: bytes, name: str) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.getinfo(name).header_offset


def _central_offset(data: bytes, name: str) -> int:
    encoded = name.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == encoded:
            return at
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(name)


def test_good_runpack_still_verifies(run_gait, good: Path) -> None:
    code, doc = _verify(run_gait, good)
    assert code == 0, doc


def test_symlink_mode_on_a_member(run_gait, good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = _central_offset(data, "run.json")
    # external attributes (offset 38): a symlink's mode in the high 16 bits
    path = tmp_path / "symlink.zip"
    path.write_bytes(_patch(data, at + 38, "<L", (stat.S_IFLNK | 0o777) << 16))
    _refused(run_gait, path, "symlink mode bits")


def test_directory_attribute_on_a_member(run_gait, good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = _central_offset(data, "refs.json")
    path = tmp_path / "dir.zip"
    path.write_bytes(_patch(data, at + 38, "<L", ((stat.S_IFDIR | 0o755) << 16) | 0x10))
    _refused(run_gait, path, "directory mode bits")


def test_local_header_says_stored_where_central_says_deflate(run_gait, good, tmp_path) -> None:  # noqa: ANN001
    data = good.read_bytes()
    at = _local_offset(data, "intents.jsonl")
    path = tmp_path / "method.zip"
    path.write_bytes(_patch(data, at + 8, "<H", 0))
    _refused(run_gait, path, "local header says method 0")


def test_local_size_that_lies(run_gait, good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = _local_offset(data, "results.jsonl")
    size = struct.unpack_from("<L", data, at + 22)[0]
    path = tmp_path / "size.zip"
    path.write_bytes(_patch(data, at + 22, "<L", size + 7))
    _refused(run_gait, path, "local header sizes or CRC differ")


def test_wrong_entry_count(run_gait, good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    at = data.rfind(b"PK\x05\x06")
    patched = _patch(data, at + 8, "<H", 4)  # entries on this disk
    patched = _patch(patched, at + 10, "<H", 4)  # entries in total (there are 5)
    path = tmp_path / "count.zip"
    path.write_bytes(patched)
    _refused(run_gait, path, "end record says 4 entries")


def test_member_with_an_empty_name(run_gait, good: Path, tmp_path: Path) -> None:
    """zipfile reads an entry whose name is empty, and its ZipInfo.is_dir() then raises
    IndexError: that was an E_INTERNAL (exit 1); it is an unsafe member like any other."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(zipfile.ZipInfo("x", date_time=EPOCH), b"1")
    data = without_member_name(buffer.getvalue(), "x")
    path = tmp_path / "empty-name.zip"
    path.write_bytes(data)
    assert [i.filename for i in zipfile.ZipFile(path).infolist()][-1] == ""
    code, doc = _verify(run_gait, path)
    assert code == 2, doc
    assert "E_VERIFY_UNSAFE_MEMBER" in doc["error_codes"], doc
    assert {"path": "", "reason": "empty or NUL in member name"} in doc["unsafe_members"], doc


def _with_extra(good: Path, path: Path, name: str, data: bytes, method: int) -> Path:
    path.write_bytes(good.read_bytes())
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(name, EPOCH)
        info.compress_type = method
        archive.writestr(info, data)
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory via /proc (Linux)")
def test_unlisted_bomb_is_streamed_not_kept(run_gait, good: Path, tmp_path: Path) -> None:
    """A 200 MiB member of zeros (deflates ~1000x): refused at the ratio limit after at most
    one chunk past it, and the process never holds it (peak RSS well under 200 MiB)."""
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(good.read_bytes())
    with zipfile.ZipFile(bomb, "a") as archive:
        info = zipfile.ZipInfo("bomb.bin", EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:  # streamed: the test stays small
            zeros = b"\0" * (1024 * 1024)
            for _ in range(200):
                member.write(zeros)
    assert bomb.stat().st_size < 1024 * 1024
    script = (
        "import sys\n"
        "from gait.runpack.verify import verify_runpack\n"
        "report = verify_runpack(sys.argv[1])\n"
        # VmHWM is this process's own peak (ru_maxrss would include the forking parent's)
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(report.exit_code, ','.join(report.error_codes), status)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "2" and "E_VERIFY_ARCHIVE" in out[1], out
    assert int(out[2]) < 150 * 1024, f"peak RSS {int(out[2]) // 1024} MiB"  # KiB on Linux


def test_limits_are_adjustable_by_flag(run_gait, good: Path, tmp_path: Path) -> None:
    blob = bytes(range(256)) * 8 * 1024  # 2 MiB, incompressible enough
    path = _with_extra(good, tmp_path / "big.zip", "blob.bin", blob, zipfile.ZIP_STORED)
    code, doc = _verify(run_gait, path)
    assert "E_VERIFY_ARCHIVE" not in doc.get("error_codes", [])
    code, doc = _verify(run_gait, path, "--max-member-mib", "1")
    assert code == 2 and "E_VERIFY_ARCHIVE" in doc["error_codes"]
    code, doc = _verify(run_gait, path, "--max-total-mib", "1")
    assert code == 2 and "E_VERIFY_ARCHIVE" in doc["error_codes"]
    proc = run_gait("verify", str(path), "--max-ratio", "0")
    assert proc.returncode == 6 and "E_USAGE" in proc.stderr


@pytest.mark.parametrize("case", ["corrupt-deflate", "encrypted-flag", "unknown-method"])
def test_registry_install_of_a_malformed_zip_is_an_error_code(run_gait, tmp_path, case) -> None:  # noqa: ANN001
    src = tmp_path / "src"
    src.mkdir()
    (src / "graders.json").write_text('{"graders": ["schema_validation"]}\n' * 50)
    proc = run_gait(
        "registry",
        "pack",
        str(src),
        "--name",
        "p",
        "--version",
        "1.0.0",
        "--publisher",
        "acme",
        "--out",
        str(tmp_path / "p.zip"),
    )
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "p.zip").read_bytes()
    local = _local_offset(data, "graders.json")
    central = _central_offset(data, "graders.json")
    if case == "corrupt-deflate":
        name_len, extra_len = struct.unpack_from("<HH", data, local + 26)
        body = local + 30 + name_len + extra_len
        data = data[:body] + b"\xff\xff\xff\xff" + data[body + 4 :]
    elif case == "encrypted-flag":
        data = _patch(data, local + 6, "<H", 1)
        data = _patch(data, central + 8, "<H", 1)
    else:
        data = _patch(data, local + 8, "<H", 99)
        data = _patch(data, central + 10, "<H", 99)
    (tmp_path / "p.zip").write_bytes(data)
    proc = run_gait("registry", "install", str(tmp_path / "p.zip"), "--json")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (2, 6), proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error_code"].startswith("E_REGISTRY_"), proc.stdout


# Issue 11 item 11: a listed member with hashes right and under the size/ratio caps can still
# parse into many tiny containers per byte. verify streams it (a block of lines at a time) and
# refuses a line that would cost too much to parse, before parsing it.
_PEAK = (
    "import sys\n"
    "from gait.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    # VmHWM is this process's own peak (ru_maxrss would include the forking parent's)
    "peak = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
    "print('PEAK_KIB', peak, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _listed_containers(path: Path, lines: int, per_line: int) -> Path:
    """A valid unsigned runpack whose intents.jsonl lines each hold ``per_line`` empty arrays
    (3 bytes each, about 80 bytes once parsed), listed with the right hash."""
    import os

    from gait.canon import canonical_bytes
    from gait.runpack import model
    from gait.runpack.archive import write_zip
    from gait.runpack.build import manifest_for

    head = {
        "created_at": "2026-01-01T00:00:00Z",
        "producer_version": "0.1.0",
        "run_id": "run_hostile",
        "schema_version": "1.0.0",
    }
    run = {**head, "schema_id": "gait.runpack.run", "timeline": []}
    run["env"] = {"arch": "x", "os": "x", "runtime": "x"}
    refs = {**head, "schema_id": "gait.runpack.refs", "receipts": []}
    nested = b"[" + b",".join([b"[]"] * per_line) + b"]"
    body = []
    for i in range(lines):
        intent = {
            **head,
            "schema_id": "gait.runpack.intent",
            "intent_id": f"intent_{i}",
            "args_digest": "0" * 64,
            "tool_name": os.urandom(per_line // 60 + 1).hex(),  # keeps the ratio under 200x
        }
        body.append(b'{"args":{"x":' + nested + b"}," + canonical_bytes(intent)[1:] + b"\n")
    data = {
        model.RUN: canonical_bytes(run),
        model.REFS: canonical_bytes(refs),
        model.INTENTS: b"".join(body),
        model.RESULTS: b"",
    }
    data[model.MANIFEST] = canonical_bytes(manifest_for(run, "raw", data))
    write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])
    return path


def _verify_peak(path: Path, gait_home: Path, *extra: str) -> tuple[int, dict, int]:
    return _gait_peak(gait_home, "verify", str(path), "--json", *extra)


def _gait_peak(gait_home: Path, *argv: str, cwd: Path | None = None) -> tuple[int, dict, int]:
    import os

    proc = subprocess.run(
        [sys.executable, "-c", _PEAK, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "GAIT_HOME": str(gait_home)},
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    peak = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("PEAK_KIB")]
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1]), int(peak[0]) // 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory via /proc (Linux)")
def test_listed_member_of_tiny_containers_is_streamed(tmp_path: Path, gait_home: Path) -> None:
    """12 MiB of empty arrays, hashes right: parsed whole it costs over 300 MiB; streamed, verify
    accepts it (it is a valid runpack) with a peak under 200 MiB."""
    path = _listed_containers(tmp_path / "many.zip", lines=140, per_line=30_000)
    code, doc, peak_mib = _verify_peak(path, gait_home)
    assert code == 0 and doc["ok"], doc
    assert peak_mib < 200, f"peak RSS {peak_mib} MiB"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory via /proc (Linux)")
def test_regress_init_streams_its_source(tmp_path: Path, gait_home: Path) -> None:
    """regress init reads the same hostile run as verify does, as a stream: its expectations
    are written (every tool in order, no results: replay exit 2) with a peak under 200 MiB
    (loading the run's records, as init did, peaked over 300 MiB)."""
    path = _listed_containers(tmp_path / "many.zip", lines=140, per_line=30_000)
    work = tmp_path / "work"
    work.mkdir()
    code, doc, peak_mib = _gait_peak(
        gait_home, "regress", "init", "--from", str(path), "--name", "many", "--json", cwd=work
    )
    assert code == 0, doc
    assert peak_mib < 200, f"peak RSS {peak_mib} MiB"
    fixture = json.loads((work / "fixtures" / "many" / "fixture.json").read_text())
    assert fixture["expected_replay_exit_code"] == 2
    assert len(fixture["expected_tool_sequence"]) == 140
    assert fixture["expected_verdict_sequence"] == []
    assert (work / "fixtures" / "many" / "runpack.zip").read_bytes() == path.read_bytes()


def test_regress_init_takes_verify_limits(tmp_path: Path, gait_home: Path) -> None:
    """A run over a default limit is refused by init as by verify (nothing written), and the
    same flag raises the limit for init as for verify."""
    path = _listed_containers(tmp_path / "wide.zip", lines=1, per_line=400_000)
    work = tmp_path / "work"
    work.mkdir()
    argv = ("regress", "init", "--from", str(path), "--name", "wide", "--json")
    code, doc, _ = _gait_peak(gait_home, *argv, cwd=work)
    assert code == 2 and doc["error_code"] == "E_VERIFY_ARCHIVE", doc
    assert "--max-json-values raises the limit" in doc["error"], doc
    assert list(work.iterdir()) == []
    code, doc, _ = _gait_peak(gait_home, *argv, "--max-json-values", "1000000", cwd=work)
    assert code == 0 and doc["fixture_dir"] == "fixtures/wide", doc


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory via /proc (Linux)")
def test_a_line_over_the_json_value_limit_is_refused_before_parsing(
    tmp_path: Path, gait_home: Path
) -> None:
    """One line of 400,000 empty arrays counts 800,000 values, over the default 500,000: refused
    (E_VERIFY_ARCHIVE, exit 2) with the flag that raises the limit; raised, it verifies."""
    path = _listed_containers(tmp_path / "wide.zip", lines=1, per_line=400_000)
    code, doc, peak_mib = _verify_peak(path, gait_home)
    assert code == 2 and doc["error_codes"] == ["E_VERIFY_ARCHIVE"], doc
    archive = next(c for c in doc["checks"] if c["name"] == "archive")
    assert archive["detail"] == (
        "intents.jsonl: line 1 holds more than 500000 JSON values "
        "(--max-json-values raises the limit)"
    )
    assert peak_mib < 200, f"peak RSS {peak_mib} MiB"
    code, doc, _ = _verify_peak(path, gait_home, "--max-json-values", "1000000")
    assert code == 0 and doc["ok"], doc
    code, doc, _ = _verify_peak(path, gait_home, "--max-line-mib", "1")
    archive = next(c for c in doc["checks"] if c["name"] == "archive")
    assert code == 2, doc
    assert "line 1 is over the 1048576-byte line limit (--max-line-mib" in archive["detail"]
