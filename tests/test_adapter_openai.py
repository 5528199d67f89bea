"""The OpenAI adapter reads whole responses too, and refuses what it cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gait.gate
from gait.adapters.openai_tools import extract_calls, gate_tool_calls
from gait.errors import InvalidInput

POLICY = """\
default_verdict: block
rules:
  - name: reads
    priority: 1
    effect: allow
    match:
      endpoint_classes: [fs.read]
"""
CONTEXT = {"identity": "agent.sdk", "workspace": "/repo", "risk_class": "medium"}


def _call(call_id: str, name: str, args: dict) -> dict:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


def test_full_chat_completion_response(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gate = gait.gate.load(policy, trace_dir=tmp_path / "traces")
    response = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        _call("call_1", "tool.read", {"path": "/repo/a.txt"}),
                        _call("call_2", "tool.exec", {"cmd": "ls"}),
                    ],
                },
            },
        ],
    }
    gated = gate_tool_calls(
        gate,
        response,
        context=CONTEXT,
        targets=lambda name, args: (
            [{"kind": "path", "value": args["path"]}] if "path" in args else []
        ),
    )
    assert [c.call_id for c in gated.allowed] == ["call_1"]
    assert [m["tool_call_id"] for m in gated.messages] == ["call_2"]


@pytest.mark.parametrize("payload", [{"foo": 1}, {"choices": "x", "id": 3}, {"message": {}}])
def test_unrecognised_payload_is_refused_not_silently_empty(payload) -> None:
    with pytest.raises(InvalidInput) as info:
        extract_calls(payload)
    assert info.value.code == "E_ADAPTER_INPUT_INVALID"


def _response_with_arguments(arguments: str) -> dict:
    call = {"id": "call_1", "type": "function", "function": {"name": "tool.read"}}
    call["function"]["arguments"] = arguments
    return {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}]}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ('{"path": "/repo/a.txt", "path": "/etc/shadow"}', "duplicate key 'path'"),
        ('{"path": "/repo/a.txt", "limit": NaN}', "NaN"),
        ('{"path": "/repo/a.txt", "limit": -Infinity}', "Infinity"),
    ],
)
def test_arguments_other_readers_take_differently_are_refused(
    tmp_path: Path, arguments: str, said: str
) -> None:
    """The gate allowed /repo/a.txt; a tool whose JSON reader keeps the first key would read
    it, one keeping the last would read /etc/shadow: the call is refused, not decided."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gate = gait.gate.load(policy, trace_dir=tmp_path / "traces")
    with pytest.raises(InvalidInput) as info:
        gate_tool_calls(gate, _response_with_arguments(arguments), context=CONTEXT)
    assert info.value.code == "E_ADAPTER_INPUT_INVALID"
    assert said in info.value.message and "tool_calls[0].function.arguments" in info.value.message
    assert not (tmp_path / "traces").exists()  # nothing was decided


def test_arguments_that_are_no_json_are_denied_per_call(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gate = gait.gate.load(policy, trace_dir=tmp_path / "traces")
    gated = gate_tool_calls(gate, _response_with_arguments('{"path": "/repo/a'), context=CONTEXT)
    assert gated.allowed == [] and [c.call_id for c in gated.denied] == ["call_1"]
    assert json.loads(gated.messages[0]["content"])["verdict"] == "error"
