"""OpenAI Agents SDK end to end, offline: ``Runner.run`` with a scripted ``Model``.

The model asks for a safe read and a destructive delete; the guardrail lets the read run and
rejects the delete (its function never runs; the model is told why), the hooks and the
guardrail record both attempts, and the runpack verifies, becomes a regress fixture and passes
``pytest --gait``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents", reason="openai-agents not installed (pip install '.[openai-agents]')")

from agent_scenario import (  # noqa: E402
    fixture_round_trip,
    tool_functions,
    workdir_fixture,  # noqa: F401 (the workdir fixture)
)
from agents import Agent, Runner, function_tool, set_tracing_disabled  # noqa: E402
from agents.exceptions import ToolInputGuardrailTripwireTriggered  # noqa: E402
from agents.items import ModelResponse  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.usage import Usage  # noqa: E402
from openai.types.responses import (  # noqa: E402
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

import gait  # noqa: E402
from gait import ToolAdapter, run_session  # noqa: E402
from gait.integrations.openai_agents import (  # noqa: E402
    GaitRunHooks,
    gait_tool_guardrail,
    gate_tools,
)

set_tracing_disabled(True)  # offline: the SDK would try to export its traces to OpenAI


class ScriptedModel(Model):
    """A ``Model`` that asks for a read, then a delete, then echoes the tool outputs."""

    def __init__(self, arguments: str = '{"path": "/srv/app/data.db"}') -> None:
        self.turn = 0
        self.arguments = arguments

    async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kw: Any):  # noqa: ANN201
        self.turn += 1
        if self.turn <= 2:
            name = "read_file" if self.turn == 1 else "delete_file"
            call = ResponseFunctionToolCall(
                type="function_call",
                call_id=f"call_{self.turn}",
                name=name,
                arguments=self.arguments,
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        outputs = [
            str(item.get("output"))
            for item in input
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]
        text = ResponseOutputText(type="output_text", text=" | ".join(outputs), annotations=[])
        message = ResponseOutputMessage(
            id="msg_1", type="message", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any):  # noqa: ANN201
        raise NotImplementedError


def make_agent(ran: list[str], on_block: str = "reject", arguments: str | None = None) -> Agent:
    guardrail = gait_tool_guardrail(
        ToolAdapter(policy_path="policy.yaml"),
        on_block=on_block,  # type: ignore[arg-type]
    )
    return Agent(
        name="cleaner",
        model=ScriptedModel(arguments) if arguments else ScriptedModel(),
        tools=gate_tools([function_tool(fn) for fn in tool_functions(ran)], guardrail),
    )


def test_runner_read_allowed_delete_rejected_and_recorded(workdir: Path, run_gait) -> None:
    ran: list[str] = []
    agent = make_agent(ran)
    with gait.record(run_id="run_openai_agents") as run:
        result = asyncio.run(Runner.run(agent, "clean up", hooks=GaitRunHooks()))
    assert ran == ["read"]
    assert result.final_output.startswith("contents of /srv/app/data.db | gait gate: verdict=block")
    assert "destructive_delete" in result.final_output
    assert run.written is not None
    inspect = run_gait("run", "inspect", "run_openai_agents", "--json")
    assert inspect.stdout.index('"read_file"') < inspect.stdout.index('"delete_file"')
    fixture_round_trip(run_gait, workdir, "run_openai_agents")


def test_raise_mode_and_run_session(workdir: Path) -> None:
    ran: list[str] = []
    agent = make_agent(ran, on_block="raise")
    with run_session(run_id="run_agents_session") as session:
        with pytest.raises(ToolInputGuardrailTripwireTriggered):
            asyncio.run(Runner.run(agent, "clean up", hooks=GaitRunHooks()))
    assert ran == ["read"]
    assert [(a.tool_name, a.verdict, a.executed) for a in session.attempts] == [
        ("read_file", "allow", True),
        ("delete_file", "block", False),
    ]
    assert session.capture is not None and Path(session.capture.bundle_path).is_file()


def test_replay_answers_from_the_runpack(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    with pytest.warns(UserWarning), gait.record(run_id="run_oa_raw", capture_mode="raw") as run:
        first = asyncio.run(Runner.run(make_agent(ran), "clean up", hooks=GaitRunHooks()))
    assert run.written is not None and ran == ["read"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.written.path))
    second = asyncio.run(Runner.run(make_agent(ran), "clean up", hooks=GaitRunHooks()))
    assert second.final_output == first.final_output
    assert ran == ["read"]


def test_arguments_with_a_duplicate_key_stop_the_run(workdir: Path) -> None:
    """The gate would judge one path and the tool might read the other: nothing runs, and the
    SDK's error carries the refusal (E_ADAPTER_INPUT_INVALID) as its cause."""
    from agents.exceptions import UserError

    from gait.errors import InvalidInput

    ran: list[str] = []
    agent = make_agent(ran, arguments='{"path": "/tmp/scratch", "path": "/srv/app/data.db"}')
    with pytest.raises(UserError) as info:
        asyncio.run(Runner.run(agent, "clean up", hooks=GaitRunHooks()))
    cause = info.value.__cause__
    assert isinstance(cause, InvalidInput) and cause.code == "E_ADAPTER_INPUT_INVALID"
    assert "duplicate key 'path'" in cause.message
    assert ran == []


def test_calls_that_never_finish_are_not_kept(workdir: Path) -> None:
    """A tool raising past the SDK (``failure_error_function=None``) never reaches the output
    guardrail or ``on_tool_end``: its open call must go with the call's context, or a
    long-running service keeps one per failed call."""
    import gc

    from agents.tool_context import ToolContext

    def read_file(path: str) -> str:
        raise OSError(f"cannot read {path}")

    guardrail = gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml"))
    tools = gate_tools([function_tool(read_file, failure_error_function=None)], guardrail)

    def live_contexts() -> int:
        gc.collect()
        return sum(isinstance(o, ToolContext) for o in gc.get_objects())

    before = live_contexts()
    for _ in range(5):
        agent = Agent(name="reader", model=ScriptedModel(), tools=tools)
        with pytest.raises(Exception, match="cannot read"):
            asyncio.run(Runner.run(agent, "read", hooks=GaitRunHooks()))
    assert live_contexts() == before
