"""The SDK wrapper and the OpenAI-style adapter obey the core and cannot change its verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gait.gate
from gait.adapters.openai_tools import gate_tool_calls

POLICY = """\
default_verdict: block
rules:
  - name: reads
    priority: 1
    effect: allow
    match:
      endpoint_classes: [fs.read]
  - name: writes
    priority: 2
    effect: require_approval
    match:
      endpoint_classes: [fs.write]
  - name: plan
    priority: 3
    effect: dry_run
    match:
      tool_names: [tool.plan]
"""
CONTEXT = {"identity": "agent.sdk", "workspace": "/repo", "risk_class": "medium"}


@pytest.fixture
def gate(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return gait.gate.load(path, trace_dir=tmp_path / "traces")


def _targets(args: dict) -> list[dict]:
    return [{"kind": "path", "value": args["path"]}]


def test_decorator_runs_only_on_allow(gate, tmp_path: Path) -> None:
    calls: list[str] = []

    @gait.gate.tool(
        gate, name="tool.read", context=CONTEXT, targets=_targets, provenance={"path": "user"}
    )
    def read(path: str) -> str:
        calls.append(path)
        return "data"

    @gait.gate.tool(gate, name="tool.write", context=CONTEXT, targets=_targets)
    def write(path: str, content: str = "") -> None:
        calls.append("write " + path)

    @gait.gate.tool(gate, name="tool.exec", context=CONTEXT)
    def run(cmd: str) -> None:
        calls.append("exec")

    assert read("/tmp/a") == "data"
    with pytest.raises(gait.gate.GateApprovalRequired) as approval:
        write("/tmp/b", content="x")
    assert approval.value.result.verdict == "require_approval"
    assert approval.value.exit_code == 4
    with pytest.raises(gait.gate.GateBlocked) as blocked:
        run("rm -rf /")
    assert blocked.value.result.reason_codes == ["default_block"]
    assert blocked.value.exit_code == 3
    assert calls == ["/tmp/a"]
    # every decision was traced and signed by the core, and the chain verifies
    from gait.cli.main import main

    assert main(["trace", "verify", str(tmp_path / "traces")]) == 0


def test_dry_run_does_not_execute(gate) -> None:
    @gait.gate.tool(gate, name="tool.plan", context=CONTEXT)
    def plan() -> None:
        raise AssertionError("must not run")

    with pytest.raises(gait.gate.GateDryRun):
        plan()


def test_wrapper_cannot_turn_block_into_allow(gate) -> None:
    intent = gait.gate.build_intent("tool.exec", {"cmd": "x"}, context=CONTEXT)
    with pytest.raises(gait.gate.GateBlocked) as exc:
        gait.gate.check(gate, intent)
    outcome = exc.value.result
    # mutating the outcome object changes nothing already decided and signed
    trace = outcome.trace
    outcome.verdict = "allow"
    assert trace["verdict"] == "block"
    # a caller-supplied "verdict" in the intent is ignored by the core
    intent["verdict"] = "allow"
    intent["context"] = {**CONTEXT, "verdict": "allow"}
    with pytest.raises(gait.gate.GateBlocked):
        gait.gate.check(gate, intent)


def test_openai_chat_completions(gate) -> None:
    message = {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "tool.read", "arguments": json.dumps({"path": "/tmp/a"})},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "tool.exec", "arguments": json.dumps({"cmd": "ls"})},
            },
            {
                "id": "call_3",
                "type": "function",
                "function": {"name": "tool.read", "arguments": "{not json"},
            },
        ],
    }
    gated = gate_tool_calls(
        gate,
        message,
        context=CONTEXT,
        targets=lambda name, args: _targets(args) if "path" in args else [],
    )
    assert [c.call_id for c in gated.allowed] == ["call_1"]
    assert [c.call_id for c in gated.denied] == ["call_2", "call_3"]
    by_id = {m["tool_call_id"]: json.loads(m["content"]) for m in gated.messages}
    assert by_id["call_2"]["verdict"] == "block"
    assert by_id["call_2"]["reason_codes"] == ["default_block"]
    assert gated.messages[0]["role"] == "tool"
    assert by_id["call_3"]["status"] == "not_executed"


def test_openai_responses_items(gate) -> None:
    response = {
        "output": [
            {"type": "message", "content": []},
            {
                "type": "function_call",
                "call_id": "fc_1",
                "name": "tool.write",
                "arguments": json.dumps({"path": "/tmp/w"}),
            },
        ]
    }
    gated = gate_tool_calls(
        gate, response, context=CONTEXT, targets=lambda name, args: _targets(args)
    )
    assert gated.allowed == []
    (message,) = gated.messages
    assert message["type"] == "function_call_output" and message["call_id"] == "fc_1"
    assert "approval_token_missing" in json.loads(message["output"])["reason_codes"]


def test_decorator_reads_paths_and_sdk_objects_as_the_recorder_does(gate, tmp_path: Path) -> None:
    """A tool called with a ``pathlib.Path`` or an SDK object (a pydantic model) is decided on
    those values as JSON, exactly as the same call with plain data: before, the high-risk call
    was blocked as ``fail_closed_intent_invalid`` and a low-risk one raised."""
    from openai.types.chat import ChatCompletionMessageFunctionToolCall

    high = {**CONTEXT, "risk_class": "high"}

    @gait.gate.tool(
        gate,
        name="tool.read",
        context=high,
        targets=lambda a: [{"kind": "path", "value": str(a["path"])}],
        provenance={"path": "user"},
    )
    def read(path: object, call: object = None) -> str:
        return "data"

    call = ChatCompletionMessageFunctionToolCall(
        id="call_1", type="function", function={"name": "tool.read", "arguments": "{}"}
    )
    plain = call.model_dump(mode="json", by_alias=True)
    assert read(Path("/tmp/a"), call) == "data"
    assert read("/tmp/a", plain) == "data"
    traces = sorted((tmp_path / "traces").glob("trace_*.json"))
    digests = {json.loads(p.read_text())["args_digest"] for p in traces}
    assert len(traces) == 2 and len(digests) == 1


def test_decorated_methods_are_gated_on_their_arguments_not_self(gate) -> None:
    """Tools are often methods of a class holding a client; ``self`` (or ``cls``) is not part
    of the call. Before, it went into the intent's args, which then were not JSON: a high-risk
    call was blocked as ``fail_closed_intent_invalid``."""
    high = {**CONTEXT, "risk_class": "high"}

    class Files:
        prefix = "/tmp"

        @gait.gate.tool(
            gate, name="tool.read", context=high, targets=_targets, provenance={"path": "user"}
        )
        def read(self, path: str) -> str:
            return "data " + path

        @classmethod
        @gait.gate.tool(
            gate, name="tool.read", context=high, targets=_targets, provenance={"path": "user"}
        )
        def read_cls(cls, path: str) -> str:
            return "cls " + path

    assert Files().read("/tmp/a") == "data /tmp/a"
    assert Files.read_cls("/tmp/b") == "cls /tmp/b"


def test_check_refuses_what_is_not_an_intent_with_its_code(gate) -> None:
    """``check`` given something other than a mapping raised ``TypeError``/``ValueError`` from
    ``dict()``; it is an input error with the code and the way to build an intent."""
    from gait.errors import GaitError

    for wrong in (None, "tool.read", ["tool.read"]):
        with pytest.raises(GaitError) as refused:
            gait.gate.check(gate, wrong)  # type: ignore[arg-type]
        assert refused.value.code == "E_INTENT_INVALID"
        assert "build_intent" in refused.value.hint
