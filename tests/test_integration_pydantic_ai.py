"""pydantic-ai end to end: an ``Agent`` driven by ``FunctionModel`` (and ``TestModel``) offline.

The model asks for a safe read and a destructive delete; the gated toolset runs the read,
stops the delete (its function never runs, the model is told why), and the recorded run
verifies, becomes a regress fixture and passes ``pytest --gait``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip(
    "pydantic_ai", reason="pydantic-ai not installed (pip install '.[pydantic-ai]')"
)

from agent_scenario import (  # noqa: E402
    fixture_round_trip,
    tool_functions,
    workdir_fixture,  # noqa: F401 (the workdir fixture)
)
from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.messages import (  # noqa: E402
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402
from pydantic_ai.models.test import TestModel  # noqa: E402
from pydantic_ai.toolsets import FunctionToolset  # noqa: E402

import gait  # noqa: E402
from gait import GateEnforcementError, ToolAdapter, run_session  # noqa: E402
from gait.integrations.pydantic_ai import GaitToolset  # noqa: E402


def make_toolset(ran: list[str]) -> FunctionToolset:
    return FunctionToolset(tool_functions(ran))


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Read, then delete, then report what the tools said."""
    returns = [
        part
        for message in messages
        for part in getattr(message, "parts", [])
        if isinstance(part, ToolReturnPart)
    ]
    if not returns:
        return ModelResponse(parts=[ToolCallPart("read_file", {"path": "/srv/app/data.db"})])
    if len(returns) == 1:
        return ModelResponse(parts=[ToolCallPart("delete_file", {"path": "/srv/app/data.db"})])
    return ModelResponse(parts=[TextPart(" | ".join(str(r.content) for r in returns))])


def test_agent_read_allowed_delete_blocked_and_recorded(workdir: Path, run_gait) -> None:
    ran: list[str] = []
    toolset = GaitToolset(make_toolset(ran), adapter=ToolAdapter(policy_path="policy.yaml"))
    agent = Agent(FunctionModel(scripted), toolsets=[toolset])
    with gait.record(run_id="run_pydantic_ai") as run:
        result = agent.run_sync("clean up")
    assert ran == ["read"]
    assert result.output.startswith("contents of /srv/app/data.db | gait gate: verdict=block")
    assert "destructive_delete" in result.output
    assert run.written is not None
    inspect = run_gait("run", "inspect", "run_pydantic_ai", "--json")
    assert '"read_file"' in inspect.stdout and '"delete_file"' in inspect.stdout
    fixture_round_trip(run_gait, workdir, "run_pydantic_ai", str(run.written.path))


def test_run_session_and_raise_mode_with_test_model(workdir: Path) -> None:
    ran: list[str] = []
    toolset = GaitToolset(
        make_toolset(ran), adapter=ToolAdapter(policy_path="policy.yaml"), on_block="raise"
    )
    agent = Agent(TestModel(call_tools=["read_file", "delete_file"]), toolsets=[toolset])
    with run_session(run_id="run_pydantic_session") as session:
        with pytest.raises(GateEnforcementError) as raised:
            agent.run_sync("clean up")
    assert raised.value.decision.verdict == "block"
    assert "delete" not in ran
    assert ("delete_file", "block") in [(a.tool_name, a.verdict) for a in session.attempts]
    assert session.capture is not None and Path(session.capture.bundle_path).is_file()


def test_record_only_without_a_gate(workdir: Path, run_gait) -> None:
    ran: list[str] = []
    agent = Agent(TestModel(call_tools=["read_file"]), toolsets=[GaitToolset(make_toolset(ran))])
    with gait.record(run_id="run_pydantic_record") as run:
        agent.run_sync("read")
    assert ran == ["read"]
    assert run.written is not None
    assert run_gait("verify", "run_pydantic_record").returncode == 0


def test_replay_answers_from_the_runpack(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GAIT_REPLAY_FROM: the same agent, its tools stubbed from a raw-capture runpack."""
    ran: list[str] = []
    gate = ToolAdapter(policy_path="policy.yaml")
    agent = Agent(FunctionModel(scripted), toolsets=[GaitToolset(make_toolset(ran), adapter=gate)])
    with pytest.warns(UserWarning), gait.record(run_id="run_pai_raw", capture_mode="raw") as run:
        recorded = agent.run_sync("clean up").output
    assert run.written is not None and ran == ["read"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.written.path))
    again = Agent(FunctionModel(scripted), toolsets=[GaitToolset(make_toolset(ran), adapter=gate)])
    assert again.run_sync("clean up").output == recorded
    assert ran == ["read"]  # nothing ran during the replay
