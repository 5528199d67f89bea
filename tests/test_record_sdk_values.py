"""The recorder keeps SDK objects as their content, by one documented rule (issue 12, item 2).

A pydantic result (an MCP ``CallToolResult``, an OpenAI object) used to be stored as its type
name, so "refund approved" and "ERROR: service down" had the same digest and ``gait run diff``
called the runs equal.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import subprocess
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sdkwire

import gait
from gait.errors import InvalidInput
from gait.values import UnserializableValueWarning, to_json_value

mcp_types = pytest.importorskip("mcp.types")


def _tool_result(text: str, error: bool = False) -> Any:
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=text)], isError=error
    )


def _record(path: Path, result: Any, mode: str = "raw") -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with gait.record(run_id="run_refund", out=path, capture_mode=mode) as run:
            intent_id = run.intent("refund", {"order": "o-1"})
            run.result(intent_id, result)
    return path


def _results(path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(path) as archive:
        return [json.loads(line) for line in archive.read("results.jsonl").splitlines()]


@pytest.mark.parametrize("mode", ["raw", "reference"])
def test_mcp_results_differ_and_diff_says_so(
    tmp_path: Path, gait_argv: list[str], mode: str
) -> None:
    ok = _record(tmp_path / "ok.zip", _tool_result("refund approved"), mode)
    down = _record(tmp_path / "down.zip", _tool_result("ERROR: service down", True), mode)
    assert _results(ok)[0]["result_digest"] != _results(down)[0]["result_digest"]
    if mode == "raw":
        stored = _results(ok)[0]["result"]
        assert stored["content"][0]["text"] == "refund approved"
        assert stored["isError"] is False  # wire (alias) names, as an MCP log has them
    diff = subprocess.run(
        [*gait_argv, "run", "diff", str(ok), str(down), "--json"], capture_output=True, text=True
    )
    assert diff.returncode != 0, diff.stdout


def test_openai_object_is_stored_as_its_json(tmp_path: Path) -> None:
    completion = sdkwire.chat_completion([sdkwire.function_call("c1", "f", {"a": 1})])
    path = _record(tmp_path / "c.zip", completion)
    stored = _results(path)[0]["result"]
    assert stored["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "f"
    assert stored == json.loads(completion.model_dump_json(by_alias=True))


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Row:
    when: datetime.datetime
    amount: decimal.Decimal
    blob: bytes
    colour: Colour
    tags: frozenset[str]
    ident: uuid.UUID


def test_documented_rule_for_plain_python_values() -> None:
    attrs = pytest.importorskip("attrs")

    @attrs.define
    class Box:
        row: Row
        span: datetime.timedelta

    row = Row(
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        decimal.Decimal("10.10"),
        b"\x00\xff",
        Colour.RED,
        frozenset({"b", "a"}),
        uuid.UUID(int=1),
    )
    assert to_json_value(Box(row, datetime.timedelta(seconds=90))) == {
        "row": {
            "when": "2026-01-02T03:04:05+00:00",
            "amount": "10.10",
            "blob": "AP8=",
            "colour": "red",
            "tags": ["a", "b"],
            "ident": "00000000-0000-0000-0000-000000000001",
        },
        "span": 90.0,
    }


class Bare:
    __slots__ = ()


class WithAttrs:
    def __init__(self, status: str) -> None:
        self.status = status
        self._private = object()


def test_guesses_warn_once_per_type_and_opaque_is_refused(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = to_json_value(WithAttrs("ok"))
        second = to_json_value(WithAttrs("down"))
    assert (first, second) == ({"status": "ok"}, {"status": "down"})
    assert len([w for w in caught if w.category is UnserializableValueWarning]) == 1
    with pytest.raises(InvalidInput) as info:
        with gait.record(run_id="run_x", out=tmp_path / "x.zip") as run:
            run.intent("t", {"handle": Bare()})
    assert info.value.code == "E_RECORD_INPUT_INVALID"
    assert "Bare" in info.value.message and "handle" in info.value.message


def test_decorated_tool_returning_sdk_object(tmp_path: Path) -> None:
    @gait.record.tool("mcp.refund")
    def refund(order: str) -> Any:
        return _tool_result(f"refund approved for {order}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with gait.record(run_id="run_dec", out=tmp_path / "d.zip", capture_mode="raw"):
            refund("o-9")
    stored = _results(tmp_path / "d.zip")[0]["result"]
    assert stored["content"][0]["text"] == "refund approved for o-9"


# -- issue 11 item 17: NaN, Infinity and duplicate keys are refused, never stored as null ----


@dataclasses.dataclass
class Reading:
    value: float


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ({"q": 1}, {"score": float("nan")}),
        ({"q": float("inf")}, {"ok": True}),
        ({"q": 1}, Reading(float("-inf"))),  # inside an object read by the rule
    ],
)
def test_non_finite_numbers_are_refused_by_the_sdk(tmp_path: Path, args, result) -> None:
    with pytest.raises(InvalidInput) as info:
        with gait.record(run_id="run_nan", out=tmp_path / "n.zip", capture_mode="raw") as run:
            intent_id = run.intent("measure", args)
            run.result(intent_id, result)
    assert info.value.code == "E_RECORD_INPUT_INVALID"
    assert "no JSON form" in info.value.message
    # the run still closes (the refusal is recorded as what ended it), holding no made-up null
    with zipfile.ZipFile(tmp_path / "n.zip") as archive:
        stored = archive.read("results.jsonl") + archive.read("intents.jsonl")
    assert b":null" not in stored
    assert to_json_value({"a": [1.5, -0.0]}) == {"a": [1.5, -0.0]}  # finite floats stay


def test_duplicate_keys_in_recorded_json_text_are_refused(tmp_path: Path) -> None:
    pydantic_v1 = pytest.importorskip("pydantic.v1")

    class Legacy(pydantic_v1.BaseModel):
        status: str

        def json(self, **_: Any) -> str:  # JSON text as a v1 model with custom encoders gives
            return '{"status":"refunded","status":"failed"}'

    with pytest.raises(InvalidInput) as info:
        to_json_value(Legacy(status="x"), where="$.result")
    assert info.value.code == "E_RECORD_INPUT_INVALID"
    assert "duplicate" in info.value.message


def test_duplicate_keys_in_an_otel_message_exit_6(run_gait, tmp_path: Path) -> None:
    messages = '[{"role":"assistant","parts":[],"parts":[{"type":"text","content":"x"}]}]'
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "a1b2c3d4e5f60718",
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1772366400000000000",
        "endTimeUnixNano": "1772366400900000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.output.messages", "value": {"stringValue": messages}},
        ],
    }
    log = tmp_path / "spans.jsonl"
    log.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    proc = run_gait("run", "record", "--from", "otel", "--input", str(log), "--json", cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_RECORD_INPUT_INVALID" and "duplicate" in doc["error"]
