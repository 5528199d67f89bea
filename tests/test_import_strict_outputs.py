"""Imported tool outputs are read as strictly as recorded ones (issue 11 item 17).

A tool output that is JSON only to a lenient reader (NaN, a duplicate key) used to be kept as
its text: the runpack then held a value no two JSON readers agree on. The import is refused
(E_RECORD_INPUT_INVALID, exit 6), as ``run record`` refuses such a value given directly; text
that is not JSON at all is still kept as text.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest


def _log(path: Path, output: str) -> Path:
    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "read_file",
        "arguments": '{"path": "/a"}',
    }
    lines = [
        {"id": "resp_1", "object": "response", "created_at": 1772366400, "output": [call]},
        {"input": [call, {"type": "function_call_output", "call_id": "call_1", "output": output}]},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _record(run_gait, tmp_path: Path, output: str):
    log = _log(tmp_path / "log.jsonl", output)
    return run_gait(
        "run", "record", "--from", "openai", "--input", str(log), "--out",
        str(tmp_path / "run.zip"), "--capture-mode", "raw", "--json",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("output", "said"),
    [
        ('{"score": NaN}', "NaN is not valid JSON"),
        ('[{"ok": true}, {"score": Infinity}]', "Infinity is not valid JSON"),
        ('{"status": "refunded", "status": "failed"}', "duplicate key 'status'"),
    ],
)
def test_lenient_json_output_is_refused(run_gait, tmp_path: Path, output: str, said: str) -> None:
    proc = _record(run_gait, tmp_path, output)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_RECORD_INPUT_INVALID"
    assert doc["error"].startswith("line 2 input[1]: ") and said in doc["error"]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run.zip").exists()


def test_output_that_is_no_json_stays_text(run_gait, tmp_path: Path) -> None:
    proc = _record(run_gait, tmp_path, "{not json, just braces")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(tmp_path / "run.zip") as archive:
        result = json.loads(archive.read("results.jsonl").splitlines()[0])
    assert "{not json, just braces" in json.dumps(result)
