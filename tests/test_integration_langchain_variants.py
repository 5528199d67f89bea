"""LangChain 1.x and LangGraph agents as their users build and run them, gated and recorded.

Every test drives real ``create_agent`` agents (or LangGraph graphs) with langchain-core's fake
chat model and reads the runpack the run wrote: every run style (sync, async, streamed by
updates and by message tokens, the event stream), a model turn asking for several tools with
structured arguments, an async tool, tools that fail and are retried by the model or by
``ToolRetryMiddleware``, a tool returning a ``Command``, an agent used as another agent's tool,
sub-graphs, LangChain's human-in-the-loop, the gate's approval verdict, and the regression loop
on an agent script whose tool call changes. Replays must answer every call from the runpack.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "langchain.agents", reason="LangChain not installed (pip install '.[langchain]')"
)

from agent_scenario import workdir_fixture  # noqa: E402, F401 (the workdir fixture)
from langchain.agents import create_agent  # noqa: E402
from langchain.tools import ToolRuntime  # noqa: E402
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGenerationChunk  # noqa: E402
from langchain_core.tools import StructuredTool, ToolException, tool  # noqa: E402
from langgraph.types import Command  # noqa: E402
from pydantic import BaseModel  # noqa: E402

import gait  # noqa: E402
from gait import (  # noqa: E402
    GaitLangChainMiddleware,
    GateEnforcementError,
    ToolAdapter,
    run_session,
)

POLICY = """\
default_verdict: block
rules:
  - name: allow
    priority: 10
    effect: allow
    match: {tool_names: [read_file, refund, search, ask_files, remember, flaky]}
  - name: approve-wires
    priority: 15
    effect: require_approval
    match: {tool_names: [wire]}
    reason_codes: [needs_human]
  - name: block-delete
    priority: 20
    effect: block
    match: {tool_names: [delete_file]}
    reason_codes: [destructive_delete]
"""

PROMPT = {"messages": [{"role": "user", "content": "go"}]}


class ScriptedModel(GenericFakeChatModel):
    """langchain-core's fake chat model, taking the tools an agent binds; streamed, a turn's
    tool calls come as tool-call chunks (as providers stream them), which the stock fake
    model drops, so ``stream_mode="messages"`` runs the same tools as ``invoke``."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any):
        message = self._generate(messages, stop=stop, **kwargs).generations[0].message
        assert isinstance(message, AIMessage)
        chunks = [
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
            for i, c in enumerate(message.tool_calls)
        ]
        chunk = AIMessageChunk(
            content=message.content,
            id=message.id,
            tool_call_chunks=chunks,  # type: ignore[arg-type]
        )
        yield ChatGenerationChunk(message=chunk)


def call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def scripted(*turns: list[dict[str, Any]] | str) -> ScriptedModel:
    replies = [AIMessage(t) if isinstance(t, str) else AIMessage("", tool_calls=t) for t in turns]
    return ScriptedModel(messages=iter(replies))


def gate(**options: Any) -> GaitLangChainMiddleware:
    adapter = ToolAdapter(policy_path="policy.yaml")
    return GaitLangChainMiddleware(adapter, blocked_response="tool_message", **options)


class Refund(BaseModel):
    order: str
    cents: int
    reasons: list[str] = []
    meta: dict[str, Any] | None = None


def shop_tools(ran: list[str]) -> dict[str, Any]:
    """The agent's tools; each notes in ``ran`` that its body really ran."""

    def refund(refund: Refund, note: str | None = None, urgent: bool = False) -> str:
        """Refund an order (order ids are upper case)."""
        ran.append(f"refund {refund.order}")
        if refund.order != refund.order.upper():
            raise ToolException("order ids are upper case")  # the model is told, and retries
        return f"refunded {refund.order} {refund.cents}{' urgently' if urgent else ''}"

    @tool
    def read_file(path: str) -> str:
        """Read a file."""
        ran.append(f"read {path}")
        return f"contents of {path}"

    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(f"delete {path}")
        return "deleted"

    @tool
    async def search(query: str, limit: int = 2) -> list[str]:
        """Search the knowledge base."""
        ran.append(f"search {query}")
        await asyncio.sleep(0)
        return [f"{query} {n}" for n in range(limit)]

    @tool
    def wire(to: str, cents: int) -> str:
        """Wire money."""
        ran.append(f"wire {to}")
        return "sent"

    return {
        "refund": StructuredTool.from_function(refund, handle_tool_error=True),
        "read_file": read_file,
        "delete_file": delete_file,
        "search": search,
        "wire": wire,
    }


def members(runpack: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with zipfile.ZipFile(runpack) as archive:
        intents, results = (
            [json.loads(line) for line in archive.read(name).splitlines()]
            for name in ("intents.jsonl", "results.jsonl")
        )
    return intents, results


def steps(run: Any) -> list[tuple[str, str]]:
    assert run.written is not None
    intents, results = members(run.written.path)
    return [(i["tool_name"], r["status"]) for i, r in zip(intents, results, strict=True)]


def replay_source(run: Any) -> str:
    """The runpack to replay, as an absolute path: replay stubs are loaded once per process
    per ``GAIT_REPLAY_FROM`` value, and every test writes ``gait-out/`` in its own directory."""
    assert run.written is not None
    return str(Path(run.written.path).resolve())


def tool_messages(state: dict[str, Any]) -> list[tuple[str, Any, str]]:
    return [(m.tool_call_id, m.content, m.status) for m in state["messages"] if _is_tool(m)]


def _is_tool(message: Any) -> bool:
    return isinstance(message, ToolMessage)


def run_style(agent: Any, style: str, prompt: Any = None, config: Any = None) -> dict[str, Any]:
    """Run ``agent`` the way ``style`` names; the final state."""
    prompt = PROMPT if prompt is None else prompt
    if style == "invoke":
        return agent.invoke(prompt, config)
    if style == "ainvoke":
        return asyncio.run(agent.ainvoke(prompt, config))
    if style in ("stream", "stream_messages"):
        modes = ["values", "messages"] if style == "stream_messages" else ["values", "updates"]
        values = [
            c for mode, c in agent.stream(prompt, config, stream_mode=modes) if mode == "values"
        ]
        return values[-1]

    async def streamed() -> dict[str, Any]:
        if style == "astream":
            return [c async for c in agent.astream(prompt, config, stream_mode="values")][-1]
        events = [e async for e in agent.astream_events(prompt, config, version="v2")]
        return next(e["data"]["output"] for e in reversed(events) if e["event"] == "on_chain_end")

    return asyncio.run(streamed())


STYLES = ["invoke", "ainvoke", "stream", "stream_messages", "astream", "astream_events"]


@pytest.fixture(name="shop")
def shop_fixture(workdir: Path) -> Path:
    (workdir / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return workdir


@pytest.mark.parametrize("style", STYLES)
def test_every_run_style_gates_records_and_replays(shop: Path, style: str) -> None:
    """One turn asks for four tools (structured, nested and optional arguments, a blocked
    delete, a refund the tool rejects, one the tool's schema rejects), the next for the fixed
    refund. Every run style records the same runpack; replayed, the model is told the same
    things and no tool runs."""
    is_async = style.startswith("a")
    first_turn = [
        call("read_file", {"path": "/a"}, "c1"),
        call("refund", {"refund": {"order": "o-1", "cents": 5, "meta": {"k": [1, None]}}}, "c2"),
        call("delete_file", {"path": "/a"}, "c3"),
        call("refund", {"refund": {"order": "O-1", "cents": "five"}}, "c4"),
        *([call("search", {"query": "refunds"}, "c5")] if is_async else []),
    ]
    second_turn = [call("refund", {"refund": {"order": "O-1", "cents": 5}, "urgent": True}, "c6")]

    def agent(ran: list[str]) -> Any:
        model = scripted(first_turn, second_turn, "done")
        return create_agent(model=model, tools=list(shop_tools(ran).values()), middleware=[gate()])

    ran: list[str] = []
    with (
        pytest.warns(UserWarning),
        gait.record(run_id=f"run_styles_{style}", capture_mode="raw") as run,
    ):
        recorded = run_style(agent(ran), style)
    assert sorted(ran) == sorted(
        ["read /a", "refund o-1", "refund O-1", *(["search refunds"] if is_async else [])]
    )  # not the delete (blocked), nor the refund with "five" cents (its schema refused it)
    expected = [
        ("read_file", "ok"),
        ("refund", "error"),  # the tool raised; the model was told
        ("delete_file", "error"),  # blocked
        ("refund", "error"),  # invalid arguments; the model was told
        *([("search", "ok")] if is_async else []),
        ("refund", "ok"),
    ]
    assert steps(run) == expected
    told = dict((i, (c, s)) for i, c, s in tool_messages(recorded))
    assert told["c2"] == ("order ids are upper case", "error")
    assert "verdict=block" in told["c3"][0] and told["c3"][1] == "error"
    assert told["c6"] == ("refunded O-1 5 urgently", "success")
    intents, _ = members(run.written.path)  # type: ignore[union-attr]
    assert intents[1]["args"] == {"refund": {"order": "o-1", "cents": 5, "meta": {"k": [1, None]}}}

    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        again: list[str] = []
        replayed = run_style(agent(again), style)
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert again == []
    assert tool_messages(replayed) == tool_messages(recorded)


def test_approval_verdict_stops_the_call_either_way(shop: Path) -> None:
    """``require_approval``: the model is told (``tool_message``) or the run stops with the
    decision (the default, as the reference); the tool never runs."""
    ran: list[str] = []
    tools = shop_tools(ran)
    wire = [call("wire", {"to": "acme", "cents": 100}, "w1")]
    told = create_agent(model=scripted(wire, "ok"), tools=[tools["wire"]], middleware=[gate()])
    message = tool_messages(told.invoke(PROMPT))[0]
    assert "verdict=require_approval" in message[1] and "needs_human" in message[1]
    assert message[2] == "error"
    strict = GaitLangChainMiddleware(ToolAdapter(policy_path="policy.yaml"))
    stops = create_agent(model=scripted(wire, "ok"), tools=[tools["wire"]], middleware=[strict])
    with pytest.raises(GateEnforcementError) as stopped:
        asyncio.run(stops.ainvoke(PROMPT))
    assert stopped.value.decision.verdict == "require_approval"
    assert ran == []


@pytest.mark.parametrize("style", ["invoke", "ainvoke"])
def test_an_agent_as_a_tool_and_a_tool_returning_a_command(shop: Path, style: str) -> None:
    """An agent used as a tool is that tool's work: its calls are gated (the delete is still
    blocked) but the outer call is the step, answered whole on replay. A tool returning a
    ``Command`` (a state update) is replayed as that ``Command``."""
    ran: list[str] = []
    tools = shop_tools(ran)

    def files_agent() -> Any:
        inner = [
            call("read_file", {"path": "/in"}, "i1"),
            call("delete_file", {"path": "/in"}, "i2"),
        ]
        model = scripted(inner, "tidied")
        return create_agent(
            model=model, tools=[tools["read_file"], tools["delete_file"]], middleware=[gate()]
        )

    @tool
    async def ask_files(task: str) -> str:
        """Hand a task to the file agent."""
        ran.append(f"ask_files {task}")
        out = await files_agent().ainvoke({"messages": [{"role": "user", "content": task}]})
        return f"{out['messages'][-1].content}: {tool_messages(out)[1][1]}"

    @tool
    def remember(fact: str, runtime: ToolRuntime) -> Command:
        """Remember a fact."""
        ran.append(f"remember {fact}")
        answer = ToolMessage(f"noted {fact}", tool_call_id=runtime.tool_call_id)
        return Command(update={"messages": [answer]})

    @tool(response_format="content_and_artifact")
    def search(query: str) -> tuple[str, dict[str, Any]]:
        """Search, keeping the raw hits for the app."""
        ran.append(f"search {query}")
        return "2 hits", {"hits": [query, query.upper()]}

    def agent() -> Any:
        turn = [
            call("ask_files", {"task": "tidy"}, "o1"),
            call("remember", {"fact": "x"}, "o2"),
            call("search", {"query": "q"}, "o3"),
        ]
        if style == "invoke":  # a sync tool that runs the inner agent synchronously
            sync_ask = StructuredTool.from_function(
                func=lambda task: asyncio.run(ask_files.ainvoke({"task": task})),
                name="ask_files",
                description="Hand a task to the file agent.",
            )
            return create_agent(
                model=scripted(turn, "done"),
                tools=[sync_ask, remember, search],
                middleware=[gate()],
            )
        return create_agent(
            model=scripted(turn, "done"), tools=[ask_files, remember, search], middleware=[gate()]
        )

    with (
        pytest.warns(UserWarning),
        gait.record(run_id=f"run_nested_{style}", capture_mode="raw") as run,
        run_session(run_id=f"run_session_{style}") as session,
    ):
        recorded = run_style(agent(), style)
    assert sorted(ran) == ["ask_files tidy", "read /in", "remember x", "search q"]  # no delete
    attempts = sorted((a.intent_id, a.tool_name) for a in session.attempts)
    assert attempts == [
        ("intent_0001", "ask_files"),
        ("intent_0002", "remember"),
        ("intent_0003", "search"),
    ]  # the inner agent's calls take no place in the outer turn's order
    assert steps(run) == [("ask_files", "ok"), ("remember", "ok"), ("search", "ok")]
    told = tool_messages(recorded)
    assert told[0][1].startswith("tidied: gait gate: verdict=block")
    assert told[1] == ("o2", "noted x", "success")

    ran.clear()
    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        replayed = run_style(agent(), style)
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert ran == []
    assert tool_messages(replayed) == told
    artifacts = [
        [m.artifact for m in state["messages"] if _is_tool(m)] for state in (recorded, replayed)
    ]
    assert artifacts[0] == artifacts[1] == [None, None, {"hits": ["q", "Q"]}]


@pytest.mark.parametrize("style", ["invoke", "astream"])
def test_a_handoff_between_agents(shop: Path, style: str) -> None:
    """Two agents as nodes of a parent graph; a tool hands the conversation over
    (``Command(goto=..., graph=Command.PARENT)`` with the history). Replayed, the same agent
    takes over with the same conversation (the replaying run's own messages, not copies of
    the recorded ones), and no tool runs."""
    from langgraph.graph import START, MessagesState, StateGraph

    ran: list[str] = []

    @tool
    def transfer_to_billing(reason: str, runtime: ToolRuntime) -> Command:
        """Hand the conversation to billing."""
        ran.append(f"transfer {reason}")
        note = ToolMessage("transferred", tool_call_id=runtime.tool_call_id)
        history = [*runtime.state["messages"], note]
        return Command(goto="billing", graph=Command.PARENT, update={"messages": history})

    def graph() -> Any:
        handoff = [call("transfer_to_billing", {"reason": "refund"}, "t1")]
        front = create_agent(
            model=scripted(handoff), tools=[transfer_to_billing], middleware=[gate()], name="front"
        )
        refund = [call("refund", {"refund": {"order": "O-1", "cents": 3}}, "b1")]
        billing = create_agent(
            model=scripted(refund, "refunded"),
            tools=[shop_tools(ran)["refund"]],
            middleware=[gate()],
            name="billing",
        )
        parent = StateGraph(MessagesState)
        parent.add_node("front", front, destinations=("billing",))
        parent.add_node("billing", billing)
        parent.add_edge(START, "front")
        return parent.compile()

    def conversation(state: dict[str, Any]) -> list[tuple[str, Any]]:
        return [(type(m).__name__, m.content) for m in state["messages"]]

    (shop / "policy.yaml").write_text(
        POLICY.replace("remember, flaky]", "remember, flaky, transfer_to_billing]"), "utf-8"
    )
    with (
        pytest.warns(UserWarning),
        gait.record(run_id=f"run_handoff_{style}", capture_mode="raw") as run,
    ):
        recorded = run_style(graph(), style)
    assert ran == ["transfer refund", "refund O-1"]
    assert steps(run) == [("transfer_to_billing", "ok"), ("refund", "ok")]
    assert conversation(recorded)[-1] == ("AIMessage", "refunded")

    ran.clear()
    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        replayed = run_style(graph(), style)
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert ran == []
    assert conversation(replayed) == conversation(recorded)


@pytest.mark.parametrize("style", ["invoke", "ainvoke"])
def test_a_langgraph_tool_node_of_ones_own(shop: Path, style: str) -> None:
    """The LangGraph way: a model node, ``tools_condition`` and a ``ToolNode`` given the
    middleware's hooks, with ``handle_tool_errors=True`` (so the default ``raise`` reaches the
    model as LangGraph's error message). Recorded in the model's order, replayed unchanged."""
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    ran: list[str] = []

    def graph() -> Any:
        tools = shop_tools(ran)
        turn = [call("read_file", {"path": "/a"}, "c1"), call("delete_file", {"path": "/a"}, "c2")]
        model = scripted(turn, [call("read_file", {"path": "/b"}, "c3")], "done")
        strict = GaitLangChainMiddleware(ToolAdapter(policy_path="policy.yaml"))
        node = ToolNode(
            [tools["read_file"], tools["delete_file"]],
            wrap_tool_call=strict.wrap_tool_call,
            awrap_tool_call=strict.awrap_tool_call,
            handle_tool_errors=True,
        )
        builder = StateGraph(MessagesState)
        builder.add_node("model", lambda state: {"messages": [model.invoke(state["messages"])]})
        builder.add_node("tools", node)
        builder.add_edge(START, "model")
        builder.add_conditional_edges("model", tools_condition)
        builder.add_edge("tools", "model")
        return builder.compile()

    with (
        pytest.warns(UserWarning),
        gait.record(run_id=f"run_toolnode_{style}", capture_mode="raw") as run,
    ):
        recorded = run_style(graph(), style)
    assert ran == ["read /a", "read /b"]
    assert steps(run) == [("read_file", "ok"), ("delete_file", "error"), ("read_file", "ok")]
    told = tool_messages(recorded)
    assert "GateEnforcementError" in told[1][1] and "destructive_delete" in told[1][1]

    ran.clear()
    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        replayed = run_style(graph(), style)
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert ran == [] and tool_messages(replayed) == told


def test_sub_graphs_tool_retries_and_human_in_the_loop(shop: Path) -> None:
    """A gated agent as a node of a parent graph, streamed with its sub-graphs; under it
    LangChain's ``HumanInTheLoopMiddleware`` (a human edits a refund: the gate decides and
    records the edited call) and ``ToolRetryMiddleware`` (each attempt is a step, replayed as
    it went: the failure raised again, then the success)."""
    from langchain.agents.middleware import HumanInTheLoopMiddleware, ToolRetryMiddleware
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import START, MessagesState, StateGraph

    ran: list[str] = []
    attempts: list[int] = []

    @tool
    def flaky(x: int) -> str:
        """A service that fails once."""
        attempts.append(x)
        if len(attempts) == 1:
            raise ConnectionError("try again")
        return f"ok {x}"

    def graph() -> Any:
        turn = [
            call("flaky", {"x": 1}, "f1"),
            call("refund", {"refund": {"order": "O-1", "cents": 5}}, "r1"),
        ]
        retry = ToolRetryMiddleware(max_retries=2, initial_delay=0.0, jitter=False)
        review = HumanInTheLoopMiddleware(interrupt_on={"refund": True})
        agent = create_agent(
            model=scripted(turn, "done"),
            tools=[flaky, shop_tools(ran)["refund"]],
            middleware=[review, retry, gate()],
        )
        parent = StateGraph(MessagesState)
        parent.add_node("agent", agent)
        parent.add_edge(START, "agent")
        return parent.compile(checkpointer=InMemorySaver())

    edit = {
        "type": "edit",
        "edited_action": {"name": "refund", "args": {"refund": {"order": "O-9", "cents": 1}}},
    }

    def conversation() -> dict[str, Any]:
        app, config = graph(), {"configurable": {"thread_id": "t"}}
        paused = list(app.stream(PROMPT, config, stream_mode="updates", subgraphs=True))
        assert any("__interrupt__" in update for _, update in paused)
        app.invoke(Command(resume={"decisions": [edit]}), config)
        return app.get_state(config).values

    with pytest.warns(UserWarning), gait.record(run_id="run_graph", capture_mode="raw") as run:
        recorded = conversation()
    assert ran == ["refund O-9"] and attempts == [1, 1]
    assert sorted(steps(run)) == [("flaky", "error"), ("flaky", "ok"), ("refund", "ok")]
    intents, _ = members(run.written.path)  # type: ignore[union-attr]
    assert {"refund": {"order": "O-9", "cents": 1}} in [i["args"] for i in intents]

    ran.clear()
    attempts.clear()
    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        replayed = conversation()
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert ran == [] and attempts == []
    assert tool_messages(replayed) == tool_messages(recorded)


def test_approval_pauses_the_graph_until_a_token_resumes_it(
    shop: Path, run_gait: Callable[..., Any]
) -> None:
    """``on_approval="interrupt"``: ``require_approval`` pauses the graph with the ``gait
    approve`` command; resumed with the minted token the tool runs, resumed with anything else
    (LangGraph's own "approve" included) it stays refused. Replayed, the graph pauses at the
    same place and a fresh token (one is good once) finishes it, without running the tool."""
    from langgraph.checkpoint.memory import InMemorySaver

    ran: list[str] = []
    wire = shop_tools(ran)["wire"]

    def conversation(answer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        model = scripted([call("wire", {"to": "acme", "cents": 100}, "w1")], "done")
        middleware = gate(on_approval="interrupt")
        agent = create_agent(
            model=model, tools=[wire], middleware=[middleware], checkpointer=InMemorySaver()
        )
        config: Any = {"configurable": {"thread_id": "t"}}
        paused = agent.invoke(PROMPT, config)
        asked = paused["__interrupt__"][0].value["gait"]
        return asked, agent.invoke(Command(resume=answer(asked)), config)

    def mint(asked: dict[str, Any]) -> dict[str, str]:
        assert asked["verdict"] == "require_approval" and "needs_human" in asked["reason_codes"]
        argv = asked["approve"].replace('"$USER"', "bob").split()[1:]
        assert run_gait(*argv, cwd=shop).returncode == 0
        return {"approval_token": "approval_token.json"}

    declined = conversation(lambda asked: True)[1]
    assert "verdict=require_approval" in tool_messages(declined)[0][1] and ran == []
    with pytest.warns(UserWarning), gait.record(run_id="run_wire", capture_mode="raw") as run:
        asked, approved = conversation(mint)
    assert asked["args"] == {"to": "acme", "cents": 100} and asked["tool_call_id"] == "w1"
    assert tool_messages(approved) == [("w1", "sent", "success")] and ran == ["wire acme"]
    assert steps(run) == [("wire", "error"), ("wire", "ok")]  # the pause, then the call

    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        again, replayed = conversation(mint)  # a token is good once: a replay needs its own
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert again == asked and ran == ["wire acme"]
    assert tool_messages(replayed) == tool_messages(approved)


def test_a_tool_that_asks_a_human_pauses_again_on_replay(shop: Path) -> None:
    """A tool calling ``interrupt()`` (twice) pauses the graph; each pause is an ``error`` step
    holding the question, the resumed call its outcome. Replayed, the graph pauses at the same
    questions and the same answers finish it, the tool's body never running."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import interrupt

    ran: list[str] = []

    @tool
    def refund_checked(order: str) -> str:
        """Refund after a human's two checks."""
        first = interrupt({"check": "identity", "order": order})
        second = interrupt({"check": "amount"})
        ran.append(order)
        return f"refunded {order} ({first}, {second})"

    def conversation() -> tuple[list[Any], dict[str, Any]]:
        model = scripted([call("refund_checked", {"order": "O-1"}, "r1")], "done")
        agent = create_agent(
            model=model, tools=[refund_checked], middleware=[gate()], checkpointer=InMemorySaver()
        )
        config: Any = {"configurable": {"thread_id": "t"}}
        asked, state = [], agent.invoke(PROMPT, config)
        for answer in ("ok", "fine"):
            asked.append([i.value for i in state["__interrupt__"]])
            state = agent.invoke(Command(resume=answer), config)
        return asked, state

    policy = POLICY.replace("remember, flaky]", "remember, flaky, refund_checked]")
    (shop / "policy.yaml").write_text(policy, encoding="utf-8")
    with pytest.warns(UserWarning), gait.record(run_id="run_asks", capture_mode="raw") as run:
        asked, recorded = conversation()
    assert asked == [[{"check": "identity", "order": "O-1"}], [{"check": "amount"}]]
    assert ran == ["O-1"]
    assert steps(run) == [("refund_checked", "error")] * 2 + [("refund_checked", "ok")]

    os.environ["GAIT_REPLAY_FROM"] = replay_source(run)
    try:
        again, replayed = conversation()
    finally:
        del os.environ["GAIT_REPLAY_FROM"]
    assert again == asked and ran == ["O-1"]
    assert tool_messages(replayed) == tool_messages(recorded)
    assert tool_messages(recorded)[0][1] == "refunded O-1 (ok, fine)"


AGENT = '''
import asyncio
import os
import sys

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel

import gait
from gait import GaitLangChainMiddleware, ToolAdapter

ORDER = os.environ.get("ORDER", "O-1")


class FakeModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


class Refund(BaseModel):
    order: str
    cents: int


def touched(what):  # a real side effect: replay must never get here
    with open("side_effects.log", "a", encoding="utf-8") as log:
        log.write(what + "\\n")


@tool
def refund(refund: Refund, note: str | None = None) -> str:
    """Refund an order."""
    touched("refund " + refund.order)
    return "refunded " + refund.order


@tool
async def read_file(path: str) -> str:
    """Read a file."""
    touched("read " + path)
    return "contents of " + path


@tool
def delete_file(path: str) -> str:
    """Delete a file."""
    touched("delete " + path)
    return "deleted"


def call(name, args, call_id):
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


turns = [
    [call("read_file", {"path": "/a"}, "c1"), call("delete_file", {"path": "/a"}, "c2")],
    [call("refund", {"refund": {"order": ORDER, "cents": 500}, "note": "late"}, "c3")],
]
model = FakeModel(messages=iter([AIMessage("", tool_calls=t) for t in turns] + [AIMessage("done")]))
adapter = ToolAdapter(policy_path="policy.yaml")
gate = GaitLangChainMiddleware(adapter, blocked_response="tool_message")
agent = create_agent(model=model, tools=[refund, read_file, delete_file], middleware=[gate])
with gait.record(run_id="run_shop", capture_mode="raw"):
    result = asyncio.run(agent.ainvoke({"messages": [{"role": "user", "content": "refund"}]}))
print(result["messages"][-2].content)
'''


def test_the_regression_loop_on_an_agent_script(shop: Path, run_gait: Callable[..., Any]) -> None:
    """Record, verify, ``regress init --command``, then replay: ``gait regress run`` and
    ``pytest --gait`` pass without running a tool, and fail naming the changed argument."""
    (shop / "agent.py").write_text(AGENT, encoding="utf-8")
    argv = [sys.executable, "agent.py"]
    recorded = subprocess.run(argv, cwd=shop, capture_output=True, text=True, check=False)
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    assert recorded.stdout.strip() == "refunded O-1"
    log = shop / "side_effects.log"
    assert log.read_text(encoding="utf-8").splitlines() == ["read /a", "refund O-1"]
    log.unlink()
    assert run_gait("verify", "run_shop").returncode == 0
    init = run_gait("regress", "init", "--from", "run_shop", "--command", " ".join(argv))
    assert init.returncode == 0, init.stdout + init.stderr

    replay = run_gait("regress", "run", timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    changed = run_gait("regress", "run", env={"ORDER": "O-2"}, timeout=120)
    assert changed.returncode == 5, changed.stdout + changed.stderr
    assert "~ #3 refund: args differ at $.refund.order" in changed.stdout, changed.stdout

    plugin = [sys.executable, "-m", "pytest", "--gait", "-q", "-p", "no:cacheprovider"]
    passed = subprocess.run(plugin, cwd=shop, capture_output=True, text=True, check=False)
    assert passed.returncode == 0, passed.stdout[-2000:]
    env = {**os.environ, "ORDER": "O-2"}
    failed = subprocess.run(plugin, cwd=shop, capture_output=True, text=True, check=False, env=env)
    assert failed.returncode != 0, failed.stdout[-2000:]
    assert "args differ at $.refund.order" in failed.stdout, failed.stdout[-2000:]
    assert not log.exists()  # no replay ran a tool
