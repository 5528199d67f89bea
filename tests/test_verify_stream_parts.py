"""verify reads a big ``.jsonl`` member in parts (gait.runpack.lines._PART_BYTES) while its
limits are checked over each streamed block: whatever the parts, the same report (errors in
record order, the first unparseable line named, duplicates across parts found)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from gait.canon import canonical_bytes
from gait.runpack import lines, model
from gait.runpack.archive import write_zip
from gait.runpack.build import manifest_for
from gait.runpack.verify import VerifyOptions, archive_limits, verify_runpack
from gait.runpack.writer import write_record_input

CALLS = 2500  # an intents member of about 700 KiB: one streamed block, several parts


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    doc = {
        "run": {"run_id": "run_parts", "created_at": "2026-01-01T00:00:00Z"},
        "capture_mode": "raw",
        "intents": [
            {"intent_id": f"intent_{i}", "tool_name": "tool.search", "args": {"q": f"q{i}" * 20}}
            for i in range(CALLS)
        ],
        "results": [
            {"intent_id": f"intent_{i}", "status": "ok", "result": {"n": i}} for i in range(CALLS)
        ],
    }
    path = write_record_input(doc, tmp_path_factory.mktemp("parts") / "good.zip").path
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _repack(members: dict[str, bytes], path: Path, changed: dict[int, bytes]) -> Path:
    """The runpack with these intents lines (1-based) replaced, hashes and digest redone."""
    intents = members[model.INTENTS].split(b"\n")
    for number, line in changed.items():
        intents[number - 1] = line
    data = {name: members[name] for name in model.DATA_MEMBERS}
    data[model.INTENTS] = b"\n".join(intents)
    run = lines.strict_document(members[model.RUN], what=model.RUN)
    data[model.MANIFEST] = canonical_bytes(manifest_for(run, "raw", data))
    return write_zip(path, [(name, data[name]) for name in model.MEMBER_ORDER])


def _line(members: dict[str, bytes], number: int, **changes: object) -> bytes:
    record = lines.strict_document(members[model.INTENTS].split(b"\n")[number - 1], what="line")
    return canonical_bytes({**record, **changes})


def _reports(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """verify's report with parts of several sizes, down to a line or so each."""
    out = []
    for size in (lines._PART_BYTES, 1 << 30, 4096, 1):
        monkeypatch.setattr(lines, "_PART_BYTES", size)
        out.append(verify_runpack(path, VerifyOptions()).to_json())
    return out


def test_errors_in_record_order_and_duplicates_across_parts(
    members: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(members[model.INTENTS]) > 2 * lines._PART_BYTES
    path = _repack(
        members,
        tmp_path / "errors.zip",
        {
            7: _line(members, 7, args_digest="zz"),
            2300: _line(members, 2300, args_digest="yy"),
            2400: _line(members, 2400, intent_id="intent_3"),
        },
    )
    reports = _reports(path, monkeypatch)
    assert all(report == reports[0] for report in reports)
    report = reports[0]
    assert report["schema_errors"][0].startswith("intents.jsonl:7: ")
    assert report["schema_errors"][-1].startswith("intents.jsonl:2300: ")
    checks = {check["name"]: check for check in report["checks"]}
    duplicate = "intents.jsonl:2400: intent_id 'intent_3' appears twice"
    assert checks["unique_ids"]["detail"] == duplicate


def test_first_unparseable_line_is_named(
    members: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _repack(
        members,
        tmp_path / "broken.zip",
        {5: _line(members, 5, args_digest="zz"), 2200: b'{"a":1,"a":2}', 2450: b"{"},
    )
    reports = _reports(path, monkeypatch)
    assert all(report == reports[0] for report in reports)
    [error] = reports[0]["schema_errors"]  # the first bad line, not the schema error before it
    assert "intents.jsonl line 2200" in error


def test_limits_are_checked_over_the_block(
    members: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record-count limit met in a later part refuses the member, whatever the parts."""
    path = _repack(members, tmp_path / "many.zip", {3: b"{"})
    options = VerifyOptions(limits=archive_limits(json_values=CALLS - 10))
    seen = []
    for size in (lines._PART_BYTES, 1 << 30, 4096):
        monkeypatch.setattr(lines, "_PART_BYTES", size)
        seen.append(verify_runpack(path, options).to_json())
    assert all(report == seen[0] for report in seen)
    assert "E_VERIFY_ARCHIVE" in seen[0]["error_codes"]
