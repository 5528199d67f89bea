"""The OpenAI Agents SDK integration on an agent as users build one, offline, with the SDK's own
``agents.testing.ScriptedModel``: one model turn asking for four calls at once (structured
pydantic arguments, lists, optional and default arguments, an async tool), a tool that raises
and is retried, an agent used as a tool, a handoff, and the gate blocking one call and asking
approval for another. Every run style (``Runner.run``, ``run_sync``, ``run_streamed``) records
the same runpack; a replay answers every call from it without running a tool, and the model
sees what it saw when recorded; the regression loop passes on the agent and fails, naming the
changed argument, when the agent changes a call.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents", reason="openai-agents not installed (pip install '.[openai-agents]')")

from agents import set_tracing_disabled  # noqa: E402

set_tracing_disabled(True)  # offline: the SDK would try to export its traces to OpenAI

AGENT = '''\
"""An Agents SDK agent as users build them, offline: a triage agent whose first turn asks for
four calls at once, a retried failing tool, an agent used as a tool and a handoff."""

import asyncio
import json
import os
import sys

from pydantic import BaseModel

from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message, function_call

import gait
from gait import ToolAdapter
from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

set_tracing_disabled(True)
CITY = os.environ.get("CITY", "Oslo")


def ran(name):
    with open("ran.log", "a", encoding="utf-8") as log:
        print(name, file=log)


class Stay(BaseModel):
    start: str
    nights: int = 1


class Booking(BaseModel):
    city: str
    stay: Stay
    guests: list[str]


class Quote(BaseModel):
    city: str
    price: int


@function_tool
async def search(q: str, limit: int = 2, tags: list[str] | None = None) -> list[str]:
    """Search the docs."""
    ran("search")
    await asyncio.sleep(0.05)  # the slowest of its turn: finishes last
    return [f"{q}:{i}" for i in range(limit)]


@function_tool
def book(city: str, stay: Stay, guests: list[str], note: str | None = None) -> Booking:
    """Book a stay."""
    ran("book")
    return Booking(city=city, stay=stay, guests=guests)


@function_tool
def delete_file(path: str) -> str:
    """Delete a file."""
    ran("delete_file")
    return "deleted"


@function_tool
def pay(amount: int) -> str:
    """Pay."""
    ran("pay")
    return "paid"


@function_tool
def flaky(x: int) -> str:
    """Fails on negative input; the model retries."""
    ran(f"flaky {x}")
    if x < 0:
        raise ValueError("x must be >= 0")
    return f"ok {x}"


@function_tool(output_type=Quote)  # a declared output schema: the model gets its JSON
def quote(city: str) -> Quote:
    """Quote a price."""
    ran("quote")
    return Quote(city=city, price=90)


@function_tool
def read_file(path: str) -> dict:
    """Read a file."""
    ran("read_file")
    return {"path": path, "text": "three refunds"}


guardrail = gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml"))
gate_tools([search, book, delete_file, pay, flaky, quote, read_file], guardrail)

researcher = Agent(
    name="researcher",
    model=ScriptedModel([
        [function_call("search", {"q": "refund policy"}, call_id="r1"),
         function_call("read_file", {"path": "/kb/refunds.md"}, call_id="r2"),
         function_call("quote", {"city": "Oslo"}, call_id="r3")],
        [assistant_message("refunds within 30 days")],
    ]),
    tools=[search, read_file, quote],
)
closer = Agent(
    name="closer",
    model=ScriptedModel([
        [function_call("read_file", {"path": "/tmp/summary.txt"}, call_id="k1")],
        [assistant_message("closed")],
    ]),
    tools=[read_file],
)
triage = Agent(
    name="triage",
    model=ScriptedModel([
        [
            function_call("search", {"q": "refund", "tags": ["billing"]}, call_id="t1"),
            function_call(
                "book",
                {"city": CITY, "stay": {"start": "2026-12-24"}, "guests": ["ana", "bo"]},
                call_id="t2",
            ),
            function_call("delete_file", {"path": "/srv/app/data.db"}, call_id="t3"),
            function_call("pay", {"amount": 120}, call_id="t4"),
        ],
        [function_call("flaky", {"x": -1}, call_id="t5")],
        [function_call("flaky", {"x": 1}, call_id="t6"),
         function_call("researcher", {"input": "refund rules"}, call_id="t7")],
        [function_call("transfer_to_closer", {}, call_id="t8")],
    ]),
    tools=[search, book, delete_file, pay, flaky,
           researcher.as_tool("researcher", "Research a question.", hooks=GaitRunHooks())],
    handoffs=[closer],
)


async def streamed():
    result = Runner.run_streamed(triage, "handle the ticket", hooks=GaitRunHooks())
    async for _event in result.stream_events():
        pass
    return result


def main(style):
    hooks = GaitRunHooks()
    if style == "sync":
        return Runner.run_sync(triage, "handle the ticket", hooks=hooks)
    if style == "streamed":
        return asyncio.run(streamed())
    return asyncio.run(Runner.run(triage, "handle the ticket", hooks=hooks))


with gait.record(run_id="run_agents_full", capture_mode="raw"):
    result = main(os.environ.get("STYLE", "async"))
seen = {
    item["call_id"]: item["output"]
    for model in (triage.model, researcher.model, closer.model)
    for call in model.calls if isinstance(call.input, list)
    for item in call.input
    if isinstance(item, dict) and item.get("type") == "function_call_output"
}
with open(f"seen_{os.environ.get('STYLE', 'async')}.json", "w", encoding="utf-8") as out:
    json.dump({"final": result.final_output, "seen": seen}, out, indent=1, sort_keys=True)
'''

POLICY = """\
default_verdict: block
rules:
  - name: allow-reads
    priority: 10
    effect: allow
    match: {tool_names: [search, book, flaky, read_file, quote, researcher]}
  - name: approve-payments
    priority: 15
    effect: require_approval
    match: {tool_names: [pay]}
    reason_codes: [payment_needs_approval]
  - name: block-delete
    priority: 20
    effect: block
    match: {tool_names: [delete_file]}
    reason_codes: [destructive_delete]
"""

TOOLS = [
    "search",
    "book",
    "delete_file",
    "pay",
    "flaky",
    "flaky",
    "search",
    "read_file",
    "quote",
    "read_file",
]


@pytest.fixture(name="agent_dir")
def agent_dir_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "agent.py").write_text(AGENT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_agent(agent_dir: Path, monkeypatch: pytest.MonkeyPatch, style: str) -> dict[str, Any]:
    """agent.py run in this process (as ``python agent.py`` would, without the interpreter
    start): what the models were handed as each call's output, and the run's final output."""
    monkeypatch.setenv("STYLE", style)
    with pytest.warns(UserWarning, match="raw capture"):
        runpy.run_path(str(agent_dir / "agent.py"), run_name="__main__")
    return json.loads((agent_dir / f"seen_{style}.json").read_text(encoding="utf-8"))


def members(runpack: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Intents and results without their creation time (the one field a rerun changes)."""
    out = []
    with zipfile.ZipFile(runpack) as archive:
        for name in ("intents.jsonl", "results.jsonl"):
            rows = [json.loads(line) for line in archive.read(name).splitlines()]
            out.append([{k: v for k, v in row.items() if k != "created_at"} for row in rows])
    return out[0], out[1]


def ran(agent_dir: Path) -> list[str]:
    log = agent_dir / "ran.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_every_run_style_records_the_same_run(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runpack = agent_dir / "gait-out" / "runpack_run_agents_full.zip"
    seen = run_agent(agent_dir, monkeypatch, "sync")
    intents, results = members(runpack)
    assert [i["tool_name"] for i in intents] == TOOLS  # the model's order; no handoff, no agent
    assert [i["intent_id"] for i in intents] == [f"intent_{n}" for n in range(1, 11)]
    assert [r["intent_id"] for r in results] == [i["intent_id"] for i in intents]
    assert intents[1]["args"] == {  # pydantic, nested and list arguments as the model sent them
        "city": "Oslo",
        "guests": ["ana", "bo"],
        "stay": {"start": "2026-12-24"},
    }
    assert results[1]["result"] == {
        "city": "Oslo",
        "guests": ["ana", "bo"],
        "stay": {"nights": 1, "start": "2026-12-24"},
    }
    assert [r["status"] for r in results] == ["ok", "ok", "error", "error"] + ["ok"] * 6
    assert results[3]["result"]["verdict"] == "require_approval"
    # The tools the gate stopped never ran; the one that raised ran, and its retry too.
    assert sorted(ran(agent_dir)) == sorted(
        ["search", "book", "flaky -1", "flaky 1", "search", "read_file", "quote", "read_file"]
    )
    assert seen["seen"]["t3"].startswith("gait gate: verdict=block reasons=destructive_delete")
    assert "verdict=require_approval" in seen["seen"]["t4"]
    assert seen["seen"]["t7"] == "refunds within 30 days" and seen["final"] == "closed"
    assert seen["seen"]["r3"] == '{"city":"Oslo","price":90}'

    for style in ("async", "streamed"):
        assert run_agent(agent_dir, monkeypatch, style) == seen
        assert members(runpack) == (intents, results), style


def test_replay_answers_every_call_as_recorded_and_runs_no_tool(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded with ``run_sync``, replayed streamed: the model is handed the same text for
    every call (a list, a pydantic model, a dict, the SDK's error text of the failed call),
    the nested agent's and the handed-off agent's calls too, and no tool body runs."""
    recorded = run_agent(agent_dir, monkeypatch, "sync")
    source = agent_dir / "recorded.zip"
    (agent_dir / "gait-out" / "runpack_run_agents_full.zip").rename(source)
    (agent_dir / "ran.log").unlink()
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(source))
    assert run_agent(agent_dir, monkeypatch, "streamed") == recorded
    assert ran(agent_dir) == []
    replayed = agent_dir / "gait-out" / "runpack_run_agents_full.zip"
    assert members(replayed) == members(source)


def test_regress_loop_passes_then_names_the_changed_argument(agent_dir: Path, run_gait) -> None:
    recorded = subprocess.run(
        [sys.executable, "agent.py"], capture_output=True, text=True, check=False
    )
    assert recorded.returncode == 0, recorded.stderr[-2000:]
    (agent_dir / "ran.log").unlink()
    assert run_gait("verify", "run_agents_full").returncode == 0
    init = run_gait("regress", "init", "--from", "run_agents_full", "--command", "python agent.py")
    assert init.returncode == 0, init.stdout + init.stderr
    pytest_gait = [sys.executable, "-m", "pytest", "--gait", "-q", "-p", "no:cacheprovider"]
    same = subprocess.run(pytest_gait, capture_output=True, text=True, check=False)
    assert same.returncode == 0, same.stdout[-3000:]
    assert ran(agent_dir) == []

    changed = subprocess.run(
        pytest_gait,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CITY": "Bergen"},
    )
    assert changed.returncode != 0
    assert "~ #2 book: args differ at $.city" in changed.stdout
    assert "E_REGRESS_REPLAY_MISS" in changed.stdout
    assert ran(agent_dir) == []


def test_a_tool_without_the_guardrail_is_not_run_on_replay(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hooks alone record a tool but cannot answer it on replay: the run stops before the tool
    would really run, naming the tool and what to do."""
    from agents import Agent, Runner, function_tool
    from agents.exceptions import UserError
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait.errors import UnsafeOperation
    from gait.integrations.openai_agents import GaitRunHooks

    calls: list[str] = []

    @function_tool
    def archive(path: str) -> str:
        """Archive a file."""
        calls.append(path)
        return "archived"

    def agent() -> Agent:
        steps = [
            [function_call("archive", {"path": "/a"}, call_id="a1")],
            [assistant_message("ok")],
        ]
        return Agent(name="ungated", model=ScriptedModel(steps), tools=[archive])

    with pytest.warns(UserWarning), gait.record(run_id="run_ungated", capture_mode="raw") as run:
        asyncio.run(Runner.run(agent(), "go", hooks=GaitRunHooks()))
    assert calls == ["/a"] and run.written is not None
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.written.path))
    with pytest.raises(UserError) as info:  # the SDK's error, the refusal as its cause
        asyncio.run(Runner.run(agent(), "go", hooks=GaitRunHooks()))
    cause = info.value.__cause__
    assert isinstance(cause, UnsafeOperation) and cause.code == "E_REPLAY_REAL_TOOL_DISABLED"
    assert "'archive'" in cause.message and "gate_tools" in cause.message
    assert calls == ["/a"]


def test_the_sdks_approval_does_not_pass_the_gate_a_gait_token_does(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch, run_gait
) -> None:
    """A tool with the SDK's ``needs_approval`` whose call the policy sends to approval: the run
    stops with the SDK's interruption; approving it in the SDK alone does not run the tool (the
    gate still wants its token, and the guardrail's output_info carries the ``gait approve``
    command); resumed from the same interruption with a guardrail holding the minted token, the
    tool runs, and the runpack holds both attempts."""
    from agents import Agent, Runner, function_tool
    from agents.run_state import RunState
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait import ToolAdapter
    from gait.integrations.openai_agents import (
        GaitRunHooks,
        approval_requests,
        gait_tool_guardrail,
        gate_tools,
    )

    paid: list[int] = []

    @function_tool(needs_approval=True)
    def pay(amount: int) -> str:
        """Pay."""
        paid.append(amount)
        return "paid"

    steps = [[function_call("pay", {"amount": 120}, call_id="p1")]]
    steps += [[assistant_message("not paid")], [assistant_message("paid")]]
    agent = Agent(name="payer", model=ScriptedModel(steps), tools=[pay])
    guardrail = gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml"))
    gate_tools([pay], guardrail)

    async def resume(saved: str) -> Any:
        state = await RunState.from_string(agent, saved)
        for item in state.get_interruptions():
            state.approve(item)
        return await Runner.run(agent, state, hooks=GaitRunHooks())

    with gait.record(run_id="run_approval") as run:
        paused = asyncio.run(Runner.run(agent, "pay the invoice", hooks=GaitRunHooks()))
        assert [item.tool_name for item in paused.interruptions] == ["pay"]
        saved = paused.to_state().to_string()
        approved = asyncio.run(resume(saved))
        assert paid == [] and approved.final_output == "not paid"
        assert "verdict=require_approval" in approved.new_items[2].output
        asked = approval_requests(guardrail)["p1"]
        assert asked["verdict"] == "require_approval"
        assert asked["reason_codes"] == ["approval_token_missing", "payment_needs_approval"]
        argv = asked["approve"].replace('"$USER"', "bob").split()[1:]
        minted = run_gait(*argv, cwd=agent_dir)
        assert minted.returncode == 0, minted.stderr
        token = ToolAdapter(policy_path="policy.yaml", approval_token="approval_token.json")
        gate_tools([pay], gait_tool_guardrail(token))  # replaces the guardrail without a token
        done = asyncio.run(resume(saved))
    assert paid == [120] and done.final_output == "paid"
    assert run.written is not None
    intents, results = members(run.written.path)
    assert [i["tool_name"] for i in intents] == ["pay", "pay"]
    assert [r["status"] for r in results] == ["error", "ok"]


def test_the_agents_own_run_hooks_still_get_every_event(agent_dir: Path) -> None:
    """``Runner.run`` takes one ``hooks=``: an agent that has its own keeps them, inside Gait's."""
    from agents import Agent, RunHooks, Runner, function_tool
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait import ToolAdapter
    from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

    events: list[str] = []

    class Metrics(RunHooks[Any]):
        async def on_agent_start(self, context: Any, agent: Any) -> None:
            events.append(f"agent_start {agent.name}")

        async def on_llm_start(self, context: Any, agent: Any, *args: Any) -> None:
            events.append("llm_start")

        async def on_llm_end(self, context: Any, agent: Any, response: Any) -> None:
            events.append("llm_end")

        async def on_handoff(self, context: Any, from_agent: Any, to_agent: Any) -> None:
            events.append(f"handoff {to_agent.name}")

        async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
            events.append(f"tool_start {tool.name}")

        async def on_tool_end(self, context: Any, agent: Any, tool: Any, result: Any) -> None:
            events.append(f"tool_end {tool.name} {result}")

        async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
            events.append(f"agent_end {output}")

    @function_tool
    def read_file(path: str) -> str:
        """Read a file."""
        return "contents"

    gate_tools([read_file], gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml")))
    closer = Agent(name="closer", model=ScriptedModel([[assistant_message("closed")]]))
    steps = [[function_call("read_file", {"path": "/a"}, call_id="c1")]]
    steps.append([function_call("transfer_to_closer", {}, call_id="c2")])
    agent = Agent(name="triage", model=ScriptedModel(steps), tools=[read_file], handoffs=[closer])
    with gait.record(run_id="run_own_hooks") as run:
        asyncio.run(Runner.run(agent, "go", hooks=GaitRunHooks(hooks=Metrics())))
    assert events == [
        "agent_start triage",
        "llm_start",
        "llm_end",
        "tool_start read_file",
        "tool_end read_file contents",
        "llm_start",
        "llm_end",
        "handoff closer",
        "agent_start closer",
        "llm_start",
        "llm_end",
        "agent_end closed",
    ]
    assert run.written is not None
    assert [i["tool_name"] for i in members(run.written.path)[0]] == ["read_file"]


def test_a_recorded_function_called_by_a_tool_is_that_tools_work(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent adopting the SDK around functions already decorated with ``gait.record.tool``:
    the function_tool's call is the step, the recorded function inside it is its work (as for
    ``gait.record.tool`` in one another), in every turn; a replay answers the step whole and
    records the same run."""
    from agents import Agent, Runner, function_tool
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait import ToolAdapter
    from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

    opened: list[str] = []

    @gait.record.tool("files.open")
    def open_file(path: str) -> str:
        opened.append(path)
        return f"contents of {path}"

    @function_tool
    def read_file(path: str) -> str:
        """Read a file."""
        return open_file(path=path).upper()

    gate_tools([read_file], gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml")))

    def agent() -> Agent:
        steps = [[function_call("read_file", {"path": "/a"}, call_id="c1")]]
        steps.append([function_call("read_file", {"path": "/b"}, call_id="c2")])
        steps.append([assistant_message("done")])
        return Agent(name="reader", model=ScriptedModel(steps), tools=[read_file])

    with pytest.warns(UserWarning), gait.record(run_id="run_inner", capture_mode="raw") as run:
        asyncio.run(Runner.run(agent(), "go", hooks=GaitRunHooks()))
    assert opened == ["/a", "/b"] and run.written is not None
    recorded = members(run.written.path)
    assert [(i["tool_name"], i["args"]) for i in recorded[0]] == [
        ("read_file", {"path": "/a"}),
        ("read_file", {"path": "/b"}),
    ]
    assert [r["result"] for r in recorded[1]] == [
        {"value": "CONTENTS OF /A"},
        {"value": "CONTENTS OF /B"},
    ]
    source = agent_dir / "recorded.zip"
    run.written.path.rename(source)
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(source))
    with pytest.warns(UserWarning), gait.record(run_id="run_inner", capture_mode="raw") as again:
        asyncio.run(Runner.run(agent(), "go", hooks=GaitRunHooks()))
    assert opened == ["/a", "/b"] and again.written is not None
    assert members(again.written.path) == recorded


def test_an_agent_run_inside_a_recorded_function_is_gated_not_recorded(agent_dir: Path) -> None:
    """A ``gait.record.tool`` function whose code runs an agent: the function's call is the
    step; the agent's calls are its work, still gated (the delete never runs) but no steps."""
    from agents import Agent, Runner, function_tool
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait import ToolAdapter
    from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

    deleted: list[str] = []

    @function_tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return "deleted"

    gate_tools([delete_file], gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml")))

    @gait.record.tool("cleanup")
    async def cleanup(path: str) -> str:
        steps = [[function_call("delete_file", {"path": path}, call_id="d1")]]
        steps.append([assistant_message("could not delete")])
        agent = Agent(name="cleaner", model=ScriptedModel(steps), tools=[delete_file])
        result = await Runner.run(agent, "clean", hooks=GaitRunHooks())
        return str(result.final_output)

    with gait.record(run_id="run_delegated") as run:
        assert asyncio.run(cleanup(path="/srv/app/data.db")) == "could not delete"
    assert deleted == [] and run.written is not None
    assert [i["tool_name"] for i in members(run.written.path)[0]] == ["cleanup"]


MCP_SERVER = '''\
from mcp.server.mcpserver import MCPServer

server = MCPServer("files")


def ran(name):
    with open("ran.log", "a", encoding="utf-8") as log:
        print(name, file=log)


@server.tool()
def search(q: str, limit: int = 2) -> str:
    """Look up documents."""
    ran("search")
    return f"{limit} hits for {q}"


@server.tool()
def delete_file(path: str) -> str:
    """Delete a file."""
    ran("delete_file")
    return "deleted"


server.run()
'''


def test_an_mcp_servers_tools_are_gated_recorded_and_replayed(
    agent_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gate_tools`` takes an MCP server (a real stdio one here): each tool it lists is gated
    and recorded; a replay hands the model the content it got (structured input, as the SDK
    renders MCP content) and calls no tool on the server."""
    pytest.importorskip("mcp.server.mcpserver", reason="needs mcp 2.x (openai-agents' MCP)")
    from agents import Agent, Runner
    from agents.mcp import MCPServerStdio
    from agents.testing import ScriptedModel, assistant_message, function_call

    import gait
    from gait import ToolAdapter
    from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

    (agent_dir / "server.py").write_text(MCP_SERVER, encoding="utf-8")
    guardrail = gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml"))

    async def run_agent() -> list[Any]:
        params = {"command": sys.executable, "args": ["server.py"], "cwd": str(agent_dir)}
        async with MCPServerStdio(params=params, name="files") as server:  # type: ignore[arg-type]
            gate_tools([server], guardrail)
            steps = [
                [
                    function_call("search", {"q": "refund"}, call_id="m1"),
                    function_call("delete_file", {"path": "/a"}, call_id="m2"),
                ],
                [assistant_message("done")],
            ]
            model = ScriptedModel(steps)
            agent = Agent(name="mcp", model=model, mcp_servers=[server])
            await Runner.run(agent, "go", hooks=GaitRunHooks())
        return [item["output"] for item in model.calls[-1].input[-2:]]

    with pytest.warns(UserWarning), gait.record(run_id="run_mcp", capture_mode="raw") as run:
        seen = asyncio.run(run_agent())
    assert seen[0] == [{"type": "input_text", "text": "2 hits for refund"}]
    assert seen[1].startswith("gait gate: verdict=block reasons=destructive_delete")
    assert ran(agent_dir) == ["search"] and run.written is not None
    intents, results = members(run.written.path)
    assert [(i["tool_name"], r["status"]) for i, r in zip(intents, results, strict=True)] == [
        ("search", "ok"),
        ("delete_file", "error"),
    ]
    source = agent_dir / "recorded.zip"
    run.written.path.rename(source)
    (agent_dir / "ran.log").unlink()
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(source))
    assert asyncio.run(run_agent()) == seen
    assert ran(agent_dir) == []
