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


def _openai_log(tmp_path: Path, created: object, arguments: str, output: str) -> Path:
    log = tmp_path / "chat.json"
    text = json.dumps(
        {
            "created": 0,
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "orders.lookup", "arguments": arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": output},
            ],
        }
    )
    log.write_text(text.replace('"created": 0', f'"created": {created}'))
    return log


def test_unix_time_rounds_to_the_next_second(run_gait, tmp_path: Path) -> None:
    """Item 17: 1.9999999 is 1970-01-01T00:00:02Z, not 00:00:01.1Z."""
    log = _openai_log(tmp_path, "1.9999999", '{"id": 1}', '{"ok": true}')
    proc = run_gait("run", "record", "--from", "openai", "--input", str(log), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import zipfile

    with zipfile.ZipFile(next((tmp_path / "gait-out").glob("*.zip"))) as archive:
        run = json.loads(archive.read("run.json"))
    assert run["created_at"] == "1970-01-01T00:00:02Z", run["created_at"]


@pytest.mark.parametrize(
    ("created", "arguments", "output"),
    [
        ("1" + "0" * 400, '{"id": 1}', "{}"),  # a huge integer time
        ("0", '{"id": ' + "9" * 400 + "}", "{}"),  # a huge integer argument
        ("0", "[" * 3000 + "]" * 3000, "{}"),  # arguments nested too deep
        ("0", '{"id": 1}', "[" * 3000 + "]" * 3000),  # a tool output nested too deep
    ],
    ids=["huge-time", "huge-arg", "deep-args", "deep-output"],
)
def test_hostile_import_is_an_error_code_or_recorded(
    run_gait, tmp_path, created, arguments, output
):
    log = _openai_log(tmp_path, created, arguments, output)
    proc = run_gait(
        "run", "record", "--from", "openai", "--input", str(log), "--json", cwd=tmp_path
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 6), proc.stdout + proc.stderr
    if proc.returncode == 6:
        assert json.loads(proc.stdout)["error_code"].startswith("E_")
    else:  # recorded: then it verifies
        runpack = next((tmp_path / "gait-out").glob("*.zip"))
        assert run_gait("verify", str(runpack), cwd=tmp_path).returncode == 0


def test_otel_attribute_with_a_list_key_is_an_error_code(run_gait, tmp_path: Path) -> None:
    """Item 15: a list as an attribute key was a TypeError (exit 1)."""
    span = {"name": "execute_tool x", "attributes": [{"key": ["a"], "value": {"stringValue": "x"}}]}
    log = tmp_path / "otel.jsonl"
    log.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    proc = run_gait("run", "record", "--from", "otel", "--input", str(log), "--json", cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["error_code"] == "E_RECORD_INPUT_INVALID"
