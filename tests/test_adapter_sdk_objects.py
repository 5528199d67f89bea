"""The gating adapters read the real SDK objects and never fail open (issue 12, item 1).

Every payload here comes out of the real ``openai`` / ``anthropic`` client, served offline by
an httpx ``MockTransport``: a ChatCompletion, its message, its ``tool_calls`` list, a Responses
``Response`` and an Anthropic ``Message``. A blocked ``delete_file`` must land in ``denied``
whichever of them the loop passes in.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import sdkwire

import gait.gate
from gait.adapters import anthropic_tools, openai_tools
from gait.errors import InvalidInput

pytest.importorskip("openai")
pytest.importorskip("anthropic")

POLICY = """\
default_verdict: block
rules:
  - name: reads
    priority: 1
    effect: allow
    match:
      tool_names: [read_file]
"""
CONTEXT = {"identity": "agent.sdk", "workspace": "/repo", "risk_class": "medium"}


@pytest.fixture
def gate(tmp_path: Path) -> Any:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return gait.gate.load(policy, trace_dir=tmp_path / "traces")


def _chat() -> Any:
    return sdkwire.chat_completion(
        [
            sdkwire.function_call("call_1", "read_file", {"path": "/repo/a.txt"}),
            sdkwire.function_call("call_2", "delete_file", {"path": "/repo"}),
            {"id": "call_3", "type": "custom", "custom": {"name": "delete_file", "input": "/"}},
        ]
    )


CHAT_VIEWS = {
    "ChatCompletion": lambda c: c,
    "message": lambda c: c.choices[0].message,
    "tool_calls list": lambda c: c.choices[0].message.tool_calls,
    "model_dump": lambda c: c.model_dump(),
    "json text parsed": lambda c: json.loads(c.model_dump_json()),
}


@pytest.mark.parametrize("view", list(CHAT_VIEWS))
def test_chat_sdk_objects_gate_every_call(gate: Any, view: str) -> None:
    payload = CHAT_VIEWS[view](_chat())
    gated = openai_tools.gate_tool_calls(gate, payload, context=CONTEXT)
    assert [c.call_id for c in gated.allowed] == ["call_1"]
    assert [c.call_id for c in gated.denied] == ["call_2", "call_3"]
    assert [c.kind for c in gated.denied] == ["function", "custom"]
    assert [m["tool_call_id"] for m in gated.messages] == ["call_2", "call_3"]
    body = json.loads(gated.messages[0]["content"])
    assert body["verdict"] == "block" and body["status"] == "not_executed"


def test_responses_sdk_objects_gate_client_calls(gate: Any) -> None:
    resp = sdkwire.response(
        [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "read_file",
                "arguments": '{"path": "/repo/a"}',
                "status": "completed",
            },
            {
                "type": "function_call",
                "id": "fc_2",
                "call_id": "call_2",
                "name": "delete_file",
                "arguments": '{"path": "/repo"}',
                "status": "completed",
            },
            {
                "type": "custom_tool_call",
                "id": "ctc_1",
                "call_id": "call_3",
                "name": "run_sql",
                "input": "DROP TABLE users",
            },
            {
                "type": "mcp_approval_request",
                "id": "mcpr_1",
                "name": "delete_repo",
                "arguments": '{"repo": "x"}',
                "server_label": "github",
            },
        ]
    )
    for payload in (resp, resp.output, resp.model_dump()):
        gated = openai_tools.gate_tool_calls(gate, payload, context=CONTEXT)
        assert [c.call_id for c in gated.allowed] == ["call_1"]
        assert [(c.call_id, c.kind) for c in gated.denied] == [
            ("call_2", "function_call"),
            ("call_3", "custom_tool_call"),
            ("mcpr_1", "mcp_approval_request"),
        ]
        assert [m["type"] for m in gated.messages] == [
            "function_call_output",
            "custom_tool_call_output",
            "mcp_approval_response",
        ]
        assert gated.messages[2]["approve"] is False
    custom = openai_tools.extract_calls(resp)[2]
    assert custom.arguments == {"input": "DROP TABLE users"}


def test_anthropic_message_gates_tool_use(gate: Any) -> None:
    message = sdkwire.anthropic_message(
        [
            {"type": "text", "text": "on it"},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "/a"}},
            {"type": "tool_use", "id": "toolu_2", "name": "delete_file", "input": {"path": "/"}},
        ]
    )
    for payload in (message, message.content, message.model_dump(), [message.model_dump()]):
        gated = anthropic_tools.gate_tool_use(gate, payload, context=CONTEXT)
        assert [c.call_id for c in gated.allowed] == ["toolu_1"]
        assert [c.call_id for c in gated.denied] == ["toolu_2"]
        reply = anthropic_tools.user_message(gated)
        assert reply["content"][0]["tool_use_id"] == "toolu_2"
        assert reply["content"][0]["is_error"] is True


@dataclasses.dataclass
class MyCall:
    id: str
    type: str
    function: dict[str, str]


def test_dataclasses_and_mappings_are_read(gate: Any) -> None:
    call = MyCall("call_9", "function", {"name": "delete_file", "arguments": "{}"})
    gated = openai_tools.gate_tool_calls(gate, [call], context=CONTEXT)
    assert [c.call_id for c in gated.denied] == ["call_9"]


class Opaque:
    __slots__ = ()


@pytest.mark.parametrize(
    "payload, named",
    [
        (Opaque(), "Opaque"),
        ("delete_file", "str"),
        (None, "NoneType"),
        ([Opaque()], "Opaque"),
        ({"output": [{"type": "brand_new_call", "id": "x"}]}, "brand_new_call"),
        ({"foo": 1}, "foo"),
        ({"choices": [{"delta": {}}]}, "no message"),
    ],
)
def test_openai_unknown_input_refused_naming_it(payload: Any, named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        openai_tools.extract_calls(payload)
    assert info.value.code == "E_ADAPTER_INPUT_INVALID"
    assert named in info.value.message


@pytest.mark.parametrize(
    "payload, named",
    [
        (Opaque(), "Opaque"),
        (42, "int"),
        ([{"type": "future_tool_use", "id": "x"}], "future_tool_use"),
        ({"id": "msg"}, "id"),
    ],
)
def test_anthropic_unknown_input_refused_naming_it(payload: Any, named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        anthropic_tools.extract_calls(payload)
    assert info.value.code == "E_ADAPTER_INPUT_INVALID"
    assert named in info.value.message
