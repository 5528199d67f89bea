"""LangChain 1.x end to end: a ``create_agent`` agent driven by langchain-core's fake chat model.

The model asks for a safe read, then a destructive delete. The middleware lets the read run,
stops the delete (its function never runs), and the run session writes a runpack that
verifies, becomes a regress fixture and passes ``pytest --gait``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "langchain.agents", reason="LangChain not installed (pip install '.[langchain]')"
)

from agent_scenario import (  # noqa: E402
    fixture_round_trip,
    tool_functions,
    workdir_fixture,  # noqa: F401 (the workdir fixture)
)
from langchain.agents import create_agent  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

import gait  # noqa: E402
from gait import (  # noqa: E402
    GaitLangChainCallbackHandler,
    GaitLangChainMiddleware,
    GateEnforcementError,
    ToolAdapter,
    run_session,
)


class ToolCallingFakeModel(GenericFakeChatModel):
    """langchain-core's fake chat model, accepting the tools an agent binds."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def scripted_model() -> ToolCallingFakeModel:
    def call(name: str, call_id: str) -> AIMessage:
        args = {"path": "/srv/app/data.db"}
        return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])

    return ToolCallingFakeModel(
        messages=iter(
            [call("read_file", "call_1"), call("delete_file", "call_2"), AIMessage("done")]
        )
    )


def make_tools(ran: list[str]) -> list[Any]:
    return [tool(fn) for fn in tool_functions(ran)]


def test_create_agent_allows_read_blocks_delete_and_records(workdir: Path, run_gait) -> None:
    ran: list[str] = []
    events = GaitLangChainCallbackHandler()
    middleware = GaitLangChainMiddleware(
        ToolAdapter(policy_path="policy.yaml"),
        callback_handler=events,
        blocked_response="tool_message",
    )
    agent = create_agent(model=scripted_model(), tools=make_tools(ran), middleware=[middleware])
    with run_session(run_id="run_langchain") as session:
        result = agent.invoke({"messages": [{"role": "user", "content": "clean up"}]})

    assert ran == ["read"]
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_messages[0].content == "contents of /srv/app/data.db"
    assert tool_messages[1].status == "error"
    assert "verdict=block" in tool_messages[1].content
    assert "destructive_delete" in tool_messages[1].content
    assert [(e.tool_name, e.verdict, e.executed) for e in events.events] == [
        ("read_file", "allow", True),
        ("delete_file", "block", False),
    ]
    assert [a.status for a in session.attempts] == ["ok", "block"]
    assert session.capture is not None
    bundle = session.capture.bundle_path
    assert "passed" in fixture_round_trip(run_gait, workdir, "run_langchain", bundle)


def test_records_into_gait_record_too(workdir: Path, run_gait) -> None:
    ran: list[str] = []
    middleware = GaitLangChainMiddleware(
        ToolAdapter(policy_path="policy.yaml"), blocked_response="tool_message"
    )
    agent = create_agent(model=scripted_model(), tools=make_tools(ran), middleware=[middleware])
    with gait.record(run_id="run_lc_record") as run:
        agent.invoke({"messages": [{"role": "user", "content": "clean up"}]})
    assert run.written is not None and ran == ["read"]
    inspect = json.loads(run_gait("run", "inspect", "run_lc_record", "--json").stdout)
    steps = [(s["tool_name"], s["status"]) for s in inspect["steps"]]
    assert steps == [("read_file", "ok"), ("delete_file", "error")]


def test_block_raises_by_default_as_the_reference(workdir: Path) -> None:
    ran: list[str] = []
    middleware = GaitLangChainMiddleware(ToolAdapter(policy_path="policy.yaml"))
    agent = create_agent(model=scripted_model(), tools=make_tools(ran), middleware=[middleware])
    with pytest.raises(GateEnforcementError) as raised:
        agent.invoke({"messages": [{"role": "user", "content": "clean up"}]})
    assert raised.value.decision.verdict == "block"
    assert ran == ["read"]


def test_langgraph_tool_node_is_gated(workdir: Path) -> None:
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    ran: list[str] = []
    middleware = GaitLangChainMiddleware(
        ToolAdapter(policy_path="policy.yaml"), blocked_response="tool_message"
    )
    node = ToolNode(
        make_tools(ran),
        wrap_tool_call=middleware.wrap_tool_call,
        awrap_tool_call=middleware.awrap_tool_call,
    )
    builder = StateGraph(MessagesState)
    builder.add_node("tools", node)
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()
    calls = [
        {"name": "read_file", "args": {"path": "/a"}, "id": "c1", "type": "tool_call"},
        {"name": "delete_file", "args": {"path": "/a"}, "id": "c2", "type": "tool_call"},
    ]
    with run_session(run_id="run_toolnode") as session:
        out = graph.invoke({"messages": [AIMessage(content="", tool_calls=calls)]})
    contents = {m.tool_call_id: m.content for m in out["messages"] if isinstance(m, ToolMessage)}
    assert contents["c1"] == "contents of /a"
    assert "verdict=block" in contents["c2"]
    assert ran == ["read"]
    assert sorted(a.verdict for a in session.attempts) == ["allow", "block"]
    assert session.capture is not None
    assert Path(session.capture.bundle_path).is_file()


def test_replay_answers_from_the_runpack(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    middleware = GaitLangChainMiddleware(
        ToolAdapter(policy_path="policy.yaml"), blocked_response="tool_message"
    )
    prompt = {"messages": [{"role": "user", "content": "clean up"}]}
    agent = create_agent(model=scripted_model(), tools=make_tools(ran), middleware=[middleware])
    with pytest.warns(UserWarning), gait.record(run_id="run_lc_raw", capture_mode="raw") as run:
        first = agent.invoke(prompt)
    assert run.written is not None and ran == ["read"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.written.path))
    agent = create_agent(model=scripted_model(), tools=make_tools(ran), middleware=[middleware])
    second = agent.invoke(prompt)
    contents = [
        [m.content for m in r["messages"] if isinstance(m, ToolMessage)] for r in (first, second)
    ]  # noqa: E501
    assert contents[0] == contents[1]
    assert ran == ["read"]
