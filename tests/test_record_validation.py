"""`gait run record` refuses, before signing or writing anything, input its own verify would
reject (issue 11 item 16), and every such input is an E_* code with exit 6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _input() -> dict:
    return {
        "run": {
            "run_id": "run_valid",
            "created_at": "2026-03-01T12:00:00Z",
            "env": {"os": "linux", "arch": "x86_64", "runtime": "python"},
            "timeline": [{"event": "start", "ts": "2026-03-01T12:00:00Z"}],
        },
        "intents": [{"intent_id": "intent_1", "tool_name": "tool.search", "args": {"query": "q"}}],
        "results": [{"intent_id": "intent_1", "status": "ok", "result": {"hits": 1}}],
        "refs": {"receipts": []},
    }


def _integer_os(doc: dict) -> None:
    doc["run"]["env"]["os"] = 7


def _string_args_raw(doc: dict) -> None:
    doc["capture_mode"] = "raw"
    doc["intents"][0]["args"] = "not an object"


def _non_ascii_run_id(doc: dict) -> None:
    doc["run"]["run_id"] = "run_é"


@pytest.mark.parametrize("mutate", [_integer_os, _string_args_raw, _non_ascii_run_id])
def test_input_verify_would_reject_is_refused_before_writing(run_gait, tmp_path: Path, mutate):
    doc = _input()
    mutate(doc)
    src = tmp_path / "in.json"
    src.write_text(json.dumps(doc))
    proc = run_gait("run", "record", "--input", str(src), "--json", cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["error_code"] == "E_RECORD_INPUT_INVALID"
    assert not list(tmp_path.rglob("*.zip")), "nothing may be written"


def test_valid_input_still_records_and_verifies(run_gait, tmp_path: Path) -> None:
    src = tmp_path / "in.json"
    src.write_text(json.dumps(_input()))
    assert run_gait("run", "record", "--input", str(src), cwd=tmp_path).returncode == 0
    proc = run_gait("verify", str(tmp_path / "gait-out" / "runpack_run_valid.zip"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
