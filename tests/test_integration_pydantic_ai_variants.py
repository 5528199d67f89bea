"""pydantic-ai agents as their users build and run them, each gated and recorded by Gait.

Every test drives a real ``Agent`` with pydantic-ai's offline models (``TestModel``,
``FunctionModel``) and reads the runpack the run wrote: the run styles (async, streamed,
step-by-step, event stream), tools with dependencies and structured arguments, a tool that
asks the model to retry, composed toolsets and an agent used as another agent's tool, the
gate's approval verdict, and the regression loop on an agent script whose tool call changes.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "pydantic_ai", reason="pydantic-ai not installed (pip install '.[pydantic-ai]')"
)

from agent_scenario import tool_functions, workdir_fixture  # noqa: E402, F401
from pydantic import BaseModel  # noqa: E402
from pydantic_ai import Agent, BinaryContent, RunContext, ToolReturn  # noqa: E402
from pydantic_ai.messages import (  # noqa: E402
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402
from pydantic_ai.models.test import TestModel  # noqa: E402
from pydantic_ai.toolsets import CombinedToolset, FunctionToolset  # noqa: E402

import gait  # noqa: E402
from gait import IntentContext, ToolAdapter  # noqa: E402
from gait.integrations.pydantic_ai import GaitCapability, GaitToolset  # noqa: E402


def members(runpack: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with zipfile.ZipFile(runpack) as archive:
        intents, results = (
            [json.loads(line) for line in archive.read(name).splitlines()]
            for name in ("intents.jsonl", "results.jsonl")
        )
    return intents, results


def steps(run: Any) -> list[tuple[str, str]]:
    """(tool, result status) per recorded call, in the runpack's order."""
    assert run.written is not None
    intents, results = members(Path(run.written.path))
    status = {r["intent_id"]: r["status"] for r in results}
    return [(i["tool_name"], status.get(i["intent_id"], "missing")) for i in intents]


def gated(ran: list[str], **kwargs: Any) -> GaitToolset:
    return GaitToolset(
        FunctionToolset(tool_functions(ran)),
        adapter=ToolAdapter(policy_path="policy.yaml"),
        **kwargs,
    )


READ_THEN_DELETE = [("read_file", "ok"), ("delete_file", "error")]


async def _run(agent: Agent[Any, Any]) -> str:
    return str((await agent.run("clean up")).output)


async def _run_stream(agent: Agent[Any, Any]) -> str:
    async with agent.run_stream("clean up") as streamed:
        return str(await streamed.get_output())


def _run_stream_sync(agent: Agent[Any, Any]) -> str:
    return str(agent.run_stream_sync("clean up").get_output())


async def _iter(agent: Agent[Any, Any]) -> str:
    async with agent.iter("clean up") as run:
        async for _node in run:
            pass
    assert run.result is not None
    return str(run.result.output)


async def _events(agent: Agent[Any, Any]) -> str:
    output = ""
    async with agent.run_stream_events("clean up") as events:
        async for event in events:
            result = getattr(event, "result", None)
            if result is not None:
                output = str(result.output)
    return output


@pytest.mark.parametrize(
    "style",
    [
        lambda a: asyncio.run(_run(a)),
        lambda a: asyncio.run(_run_stream(a)),
        _run_stream_sync,
        lambda a: asyncio.run(_iter(a)),
        lambda a: asyncio.run(_events(a)),
    ],
    ids=["run", "run_stream", "run_stream_sync", "iter", "run_stream_events"],
)
def test_every_run_style_gates_and_records(workdir: Path, style: Any) -> None:
    """TestModel asks for both tools in one turn; every way of running the agent gates the
    delete (its body never runs, the model reads the verdict) and records both calls."""
    ran: list[str] = []
    agent = Agent(TestModel(call_tools=["read_file", "delete_file"]), toolsets=[gated(ran)])
    with gait.record(run_id="run_style") as run:
        output = style(agent)
    assert ran == ["read"]
    assert "verdict=block" in output and "destructive_delete" in output
    assert steps(run) == READ_THEN_DELETE


class Address(BaseModel):
    city: str
    lines: list[str]


class Ticket(BaseModel):
    title: str
    address: Address
    tags: list[str] = []


@dataclass
class Deps:
    user: str
    opened: list[str]


def ticket_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """One turn of two structured calls (one async), a retry after the tool's ModelRetry, then
    the tools' answers as the output."""
    if len(messages) == 1:
        return ModelResponse(
            parts=[
                ToolCallPart(
                    "open_ticket",
                    {
                        "ticket": {"title": "refund", "address": {"city": "Oslo", "lines": ["1"]}},
                        "labels": {"team": ["billing"], "level": {"n": 2}},
                    },
                    tool_call_id="t1",
                ),
                ToolCallPart("lookup", {"order": "o-1"}, tool_call_id="t2"),
            ]
        )
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    retried = [p for p in last.parts if isinstance(p, RetryPromptPart) or _retried(p)]
    if retried:
        return ModelResponse(parts=[ToolCallPart("lookup", {"order": "O-1"}, tool_call_id="t3")])
    answers = [
        str(p.content)
        for m in messages
        for p in getattr(m, "parts", [])
        if isinstance(p, ToolReturnPart) and not _retried(p)
    ]
    return ModelResponse(parts=[TextPart(" | ".join(answers))])


def _retried(part: Any) -> bool:
    """A tool's ModelRetry reaches the model as a return part marked retried (pydantic-ai 2)."""
    return getattr(part, "outcome", None) == "retried"


def ticket_tools() -> FunctionToolset[Deps]:
    from pydantic_ai import ModelRetry

    tools: FunctionToolset[Deps] = FunctionToolset()

    @tools.tool
    def open_ticket(
        ctx: RunContext[Deps],
        ticket: Ticket,
        labels: dict[str, Any],
        priority: int = 3,
        assignee: str | None = None,
    ) -> Ticket:
        """Open a ticket."""
        ctx.deps.opened.append(ticket.title)
        return ticket.model_copy(update={"tags": [ctx.deps.user, str(priority)]})

    @tools.tool_plain
    async def lookup(order: str) -> dict[str, str]:
        """Look an order up (ids are upper case)."""
        await asyncio.sleep(0)
        if order != order.upper():
            raise ModelRetry("order ids are upper case")
        return {"order": order, "state": "paid"}

    return tools


def test_structured_args_deps_async_tool_and_a_retried_call(workdir: Path, run_gait) -> None:
    (workdir / "policy.yaml").write_text(
        "default_verdict: block\nrules:\n"
        "  - {name: alice, priority: 10, effect: allow, match: {identities: [alice]}}\n",
        encoding="utf-8",
    )
    deps = Deps(user="alice", opened=[])
    toolset = GaitToolset(
        ticket_tools(),
        adapter=ToolAdapter(policy_path="policy.yaml"),
        context=lambda ctx: IntentContext(
            identity=ctx.deps.user, workspace="/w", risk_class="high"
        ),
    )
    agent = Agent(FunctionModel(ticket_model), deps_type=Deps, toolsets=[toolset])
    with pytest.warns(UserWarning), gait.record(run_id="run_tickets", capture_mode="raw") as run:
        output = agent.run_sync("open it", deps=deps).output
    assert deps.opened == ["refund"]
    assert "tags=['alice', '3']" in output and "paid" in output
    assert steps(run) == [("open_ticket", "ok"), ("lookup", "error"), ("lookup", "ok")]
    intents, results = members(Path(run.written.path))
    assert intents[0]["args"] == {  # the validated arguments, defaults included, as JSON
        "ticket": {"title": "refund", "address": {"city": "Oslo", "lines": ["1"]}, "tags": []},
        "labels": {"team": ["billing"], "level": {"n": 2}},
        "priority": 3,
        "assignee": None,
    }
    assert results[0]["result"]["tags"] == ["alice", "3"]
    assert results[1]["result"]["type"] == "ModelRetry"
    assert run_gait("verify", "run_tickets").returncode == 0

    denied = Agent(FunctionModel(ticket_model), deps_type=Deps, toolsets=[toolset])
    bob = Deps(user="bob", opened=[])
    assert "verdict=block" in denied.run_sync("open it", deps=bob).output
    assert bob.opened == []


def test_combined_and_prefixed_toolsets_and_run_time_toolsets(workdir: Path) -> None:
    """Gait wraps a CombinedToolset, sits under a prefix, or comes with one run only."""
    ran: list[str] = []
    read, delete = tool_functions(ran)
    combined = GaitToolset(
        CombinedToolset([FunctionToolset([read]), FunctionToolset([delete])]),
        adapter=ToolAdapter(policy_path="policy.yaml"),
    )
    agent = Agent(TestModel(call_tools=["fs_read_file", "fs_delete_file"]))
    with gait.record(run_id="run_combined") as run:
        output = agent.run_sync("go", toolsets=[combined.prefixed("fs")]).output
    assert ran == ["read"] and "verdict=block" in output
    assert steps(run) == READ_THEN_DELETE


def test_an_agent_delegating_to_a_gated_agent(workdir: Path) -> None:
    """The parent's tool runs a child agent whose tools are gated: the child's delete is
    stopped, and the parent's recorded step is the delegation (the child's calls are its work,
    as for a ``gait.record.tool`` calling another)."""
    ran: list[str] = []
    child = Agent(TestModel(call_tools=["read_file", "delete_file"]), toolsets=[gated(ran)])
    helpers: FunctionToolset[None] = FunctionToolset()

    @helpers.tool
    async def delegate(ctx: RunContext[None], task: str) -> str:
        """Hand the task to the file agent."""
        return str((await child.run(task, usage=ctx.usage)).output)

    parent = Agent(
        TestModel(call_tools=["delegate"]),
        toolsets=[GaitToolset(helpers, adapter=ToolAdapter(policy_path="delegate.yaml"))],
    )
    (workdir / "delegate.yaml").write_text("default_verdict: allow\nrules: []\n", encoding="utf-8")
    with gait.record(run_id="run_delegate") as run:
        output = parent.run_sync("clean up").output
    assert ran == ["read"] and "verdict=block" in output
    assert steps(run) == [("delegate", "ok")]

    alone: list[str] = []
    with gait.record(run_id="run_child_only") as run:  # an ungated parent: the child's calls
        Agent(TestModel(call_tools=["read_file", "delete_file"]), toolsets=[gated(alone)]).run_sync(
            "x"
        )
    assert steps(run) == READ_THEN_DELETE


AGENT = '''
import asyncio
import json
import os
import sys
from dataclasses import dataclass

from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import DeltaToolCall, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.toolsets import FunctionToolset

import gait
from gait import IntentContext, ToolAdapter
from gait.integrations.pydantic_ai import GaitCapability, GaitToolset

ORDER = os.environ.get("ORDER", "O-1")


class Refund(BaseModel):
    order: str
    cents: int
    reasons: list[str] = []


@dataclass
class Deps:
    user: str


def touched(what):  # a real side effect: replay must never get here
    with open("side_effects.log", "a", encoding="utf-8") as log:
        log.write(what + "\\n")


files = FunctionToolset()


@files.tool_plain
def read_file(path: str) -> str:
    """Read a file."""
    touched("read " + path)
    return "contents of " + path


@files.tool_plain
def delete_file(path: str) -> str:
    """Delete a file."""
    touched("delete " + path)
    return "deleted"


file_agent = Agent(TestModel(call_tools=["read_file", "delete_file"]))
shop = FunctionToolset()


@shop.tool
async def refund(ctx: RunContext[Deps], refund: Refund, note: str | None = None) -> Refund:
    """Refund an order (order ids are upper case)."""
    if refund.order != refund.order.upper():
        raise ModelRetry("order ids are upper case")
    touched("refund " + refund.order)
    return refund.model_copy(update={"reasons": [ctx.deps.user]})


@shop.tool
async def ask_files(ctx: RunContext[Deps], task: str) -> str:
    """Hand a task to the file agent."""
    return str((await file_agent.run(task, usage=ctx.usage, toolsets=[gated(files)])).output)


def model(messages, info):
    returns = [p for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]
    if not returns:
        asked = {"refund": {"order": ORDER.lower(), "cents": 500}}
        return ModelResponse(parts=[
            ToolCallPart("refund", asked, tool_call_id="a"),
            ToolCallPart("ask_files", {"task": "tidy"}, tool_call_id="b"),
        ])
    if any(getattr(p, "outcome", None) == "retried" for p in messages[-1].parts):
        return ModelResponse(parts=[
            ToolCallPart("refund", {"refund": {"order": ORDER, "cents": 500}}, tool_call_id="c")
        ])
    return ModelResponse(parts=[TextPart(" | ".join(str(r.content) for r in returns))])


def gated(toolset):
    return GaitToolset(
        toolset,
        adapter=ToolAdapter(policy_path="policy.yaml"),
        context=lambda ctx: IntentContext(identity="alice", workspace="/w", risk_class="high"),
    )


async def stream(messages, info):  # the same replies, streamed as a provider streams them
    for index, part in enumerate(model(messages, info).parts):
        if isinstance(part, TextPart):
            yield part.content
        else:
            args = json.dumps(part.args)
            yield {index: DeltaToolCall(part.tool_name, args, tool_call_id=part.tool_call_id)}


fake = FunctionModel(model, stream_function=stream)
if sys.argv[1:] == ["stream"]:  # the agent's own tools, gated by the capability
    gate = GaitCapability(
        adapter=ToolAdapter(policy_path="policy.yaml"),
        context=lambda ctx: IntentContext(identity="alice", workspace="/w", risk_class="high"),
    )
    agent = Agent(fake, deps_type=Deps, tools=shop.tools.values(), capabilities=[gate])
else:
    agent = Agent(fake, deps_type=Deps, toolsets=[gated(shop)])
with gait.record(run_id="run_shop", capture_mode="raw"):
    if sys.argv[1:] == ["stream"]:
        async def streamed():
            async with agent.run_stream("refund o-1", deps=Deps("alice")) as result:
                return await result.get_output()
        print(asyncio.run(streamed()))
    else:
        print(agent.run_sync("refund o-1", deps=Deps("alice")).output)
'''

SHOP_POLICY = """\
default_verdict: block
rules:
  - {name: allow, priority: 10, effect: allow, match: {tool_names: [refund, ask_files, read_file]}}
  - name: block-delete
    priority: 20
    effect: block
    match: {tool_names: [delete_file]}
    reason_codes: [destructive_delete]
"""


@pytest.mark.parametrize("style", ["run_sync", "stream"])  # stream: with GaitCapability
def test_the_regression_loop_on_an_agent_script(workdir: Path, run_gait, style: str) -> None:
    """Record (structured args, a retried call, a delegated agent with a blocked delete), verify,
    ``regress init --command``, then replay: ``gait regress run`` and ``pytest --gait`` pass
    without running a tool, and fail naming the step when the agent's tool call changes."""
    (workdir / "policy.yaml").write_text(SHOP_POLICY, encoding="utf-8")
    (workdir / "agent.py").write_text(AGENT, encoding="utf-8")
    argv = [sys.executable, "agent.py", *([style] if style == "stream" else [])]
    recorded = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, check=False)
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    assert "verdict=block" in recorded.stdout and "'alice'" in recorded.stdout
    log = workdir / "side_effects.log"
    assert log.read_text(encoding="utf-8").splitlines() == ["read a", "refund O-1"]
    log.unlink()
    intents, results = members(workdir / "gait-out" / "runpack_run_shop.zip")
    assert [i["tool_name"] for i in intents] == ["refund", "ask_files", "refund"]
    assert [r["status"] for r in results] == ["error", "ok", "ok"]
    assert run_gait("verify", "run_shop").returncode == 0

    command = " ".join(argv)
    init = run_gait("regress", "init", "--from", "run_shop", "--command", command)
    assert init.returncode == 0, init.stdout + init.stderr
    replay = run_gait("regress", "run", timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    plugin = [sys.executable, "-m", "pytest", "--gait", "-q", "-p", "no:cacheprovider"]
    assert not log.exists()  # replay answered every call from the runpack

    changed = run_gait("regress", "run", env={"ORDER": "O-2"}, timeout=120)
    assert changed.returncode == 5, changed.stdout + changed.stderr
    assert "~ #1 refund: args differ at $.refund.order" in changed.stdout
    if style == "stream":  # the replay of a streamed run holds; pytest --gait is the same grading
        return
    passed = subprocess.run(plugin, cwd=workdir, capture_output=True, text=True, check=False)
    assert passed.returncode == 0, passed.stdout[-2000:]
    failed = subprocess.run(
        plugin, cwd=workdir, capture_output=True, text=True, check=False, env=_env(ORDER="O-2")
    )
    assert failed.returncode != 0, failed.stdout[-2000:]
    assert "args differ at $.refund.order" in failed.stdout, failed.stdout[-2000:]
    assert not log.exists()


def _env(**extra: str) -> dict[str, str]:
    import os

    return {**os.environ, **extra}


def test_a_capability_gates_every_tool_of_the_agent(workdir: Path) -> None:
    """Tools given as ``tools=[...]`` and ``@agent.tool`` live in the agent's own toolset, which
    no ``GaitToolset`` of the user's can wrap; ``GaitCapability`` gates them (and run-time
    toolsets) all."""

    ran: list[str] = []
    read, delete = tool_functions(ran)
    capability = GaitCapability(adapter=ToolAdapter(policy_path="policy.yaml"))
    model = TestModel(call_tools=["read_file", "delete_file", "purge"])
    agent = Agent(model, tools=[read], capabilities=[capability])

    @agent.tool_plain
    def purge() -> str:
        """Purge everything."""
        ran.append("purge")
        return "purged"

    with gait.record(run_id="run_capability") as run:
        output = agent.run_sync("go", toolsets=[FunctionToolset([delete])]).output
    assert ran == ["read"]
    assert output.count("verdict=block") == 2
    assert steps(run) == [*READ_THEN_DELETE, ("purge", "error")]
    with pytest.raises(ValueError, match="on_approval"):
        GaitCapability(on_approval="ask")  # type: ignore[arg-type]


APPROVAL_POLICY = """\
default_verdict: block
rules:
  - {name: allow-read, priority: 10, effect: allow, match: {tool_names: [read_file]}}
  - name: owner-approves-deletes
    priority: 20
    effect: require_approval
    match: {tool_names: [delete_file]}
    reason_codes: [needs_owner]
"""


def test_require_approval_defers_to_the_agents_human_in_the_loop(workdir: Path, run_gait) -> None:
    """The run stops with pydantic-ai's ``DeferredToolRequests`` carrying the ``gait approve``
    command; approving in pydantic-ai alone does not run the tool (the gate still wants its
    token); with the minted token the resumed run does, and the runpack has both attempts."""
    from pydantic_ai import DeferredToolRequests, DeferredToolResults

    (workdir / "policy.yaml").write_text(APPROVAL_POLICY, encoding="utf-8")
    ran: list[str] = []
    agent = Agent(
        TestModel(call_tools=["read_file", "delete_file"]),
        output_type=[str, DeferredToolRequests],
    )

    def toolset(**adapter: Any) -> GaitToolset:
        gate = ToolAdapter(policy_path="policy.yaml", **adapter)
        return GaitToolset(FunctionToolset(tool_functions(ran)), adapter=gate, on_approval="defer")

    with gait.record(run_id="run_approval") as run:
        paused = agent.run_sync("clean up", toolsets=[toolset()])
        assert isinstance(paused.output, DeferredToolRequests)
        (call,) = paused.output.approvals
        asked = paused.output.metadata[call.tool_call_id]["gait"]
        assert asked["verdict"] == "require_approval" and "needs_owner" in asked["reason_codes"]
        approved = DeferredToolResults(approvals={call.tool_call_id: True})
        history = paused.all_messages()
        no_token = agent.run_sync(
            message_history=history, deferred_tool_results=approved, toolsets=[toolset()]
        )
        assert "verdict=require_approval" in str(no_token.output) and ran == ["read"]

        argv = asked["approve"].replace('"$USER"', "bob").split()[1:]
        assert run_gait(*argv, cwd=workdir).returncode == 0
        done = agent.run_sync(
            message_history=history,
            deferred_tool_results=approved,
            toolsets=[toolset(approval_token="approval_token.json")],
        )
    assert ran == ["read", "delete"] and "deleted" in str(done.output)
    assert steps(run) == [
        ("read_file", "ok"),
        ("delete_file", "error"),
        ("delete_file", "error"),
        ("delete_file", "ok"),
    ]


def test_retry_mode_counts_against_the_tools_retries(workdir: Path) -> None:
    """``on_block="retry"`` is pydantic-ai's ModelRetry: a model that asks for the blocked call
    again and again ends the run once the tool's retries are spent (the README says so)."""
    from pydantic_ai.exceptions import UnexpectedModelBehavior

    ran: list[str] = []

    def insist(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("delete_file", {"path": "/a"})])

    agent = Agent(FunctionModel(insist), toolsets=[gated(ran, on_block="retry")])
    with pytest.raises(UnexpectedModelBehavior, match="exceeded max retries"):
        agent.run_sync("clean up")
    assert ran == []


class Reading(BaseModel):
    when: str
    value: float


def test_a_replayed_result_is_what_the_tool_returned(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay rebuilds a result as the type its function declares, so the model sees on replay
    what it saw when recorded: a ``ToolReturn``'s value and its extra content, an image as an
    image, a model's fields in its own order (not the runpack's JSON of them)."""
    ran: list[str] = []

    def reading() -> Reading:
        """The latest reading."""
        ran.append("reading")
        return Reading(when="noon", value=1.5)

    def report() -> ToolReturn:
        """A report with a chart for the model to look at."""
        ran.append("report")
        chart = BinaryContent(data=b"\x89PNG chart", media_type="image/png")
        return ToolReturn(return_value={"rows": 2}, content=["the chart:", chart])

    def photo() -> BinaryContent:
        """A photo."""
        ran.append("photo")
        return BinaryContent(data=b"\xff\xd8 photo", media_type="image/jpeg")

    def seen_by_model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(
                parts=[ToolCallPart(n, {}) for n in ("reading", "report", "photo")]
            )
        shown = []
        for part in messages[-1].parts:
            if isinstance(part, ToolReturnPart):
                shown.append(part.model_response_str())
            elif isinstance(part, UserPromptPart):  # what a provider sends: text and images
                items = [part.content] if isinstance(part.content, str) else part.content
                shown += [
                    f"{i.media_type} {i.data!r}" if isinstance(i, BinaryContent) else str(i)
                    for i in items
                ]
        return ModelResponse(parts=[TextPart("\n".join(shown))])

    def agent() -> Agent[None, str]:
        tools = FunctionToolset([reading, report, photo])
        return Agent(FunctionModel(seen_by_model), toolsets=[GaitToolset(CombinedToolset([tools]))])

    with pytest.warns(UserWarning), gait.record(run_id="run_values", capture_mode="raw") as run:
        recorded = agent().run_sync("go").output
    assert "the chart:" in recorded and "image/png b'\\x89PNG chart'" in recorded
    assert run.written is not None and sorted(ran) == ["photo", "reading", "report"]
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(run.written.path))
    assert agent().run_sync("go").output == recorded
    assert sorted(ran) == ["photo", "reading", "report"]


APPROVING_AGENT = '''
import subprocess

from pydantic_ai import Agent, DeferredToolRequests, DeferredToolResults
from pydantic_ai.models.test import TestModel
from pydantic_ai.toolsets import FunctionToolset

import gait
from gait import ToolAdapter
from gait.integrations.pydantic_ai import GaitToolset


def delete_file(path: str) -> str:
    """Delete a file."""
    with open("side_effects.log", "a", encoding="utf-8") as log:
        log.write("delete\\n")
    return "deleted " + path


def tools(**token):
    gate = ToolAdapter(policy_path="policy.yaml", **token)
    return [GaitToolset(FunctionToolset([delete_file]), adapter=gate, on_approval="defer")]


agent = Agent(TestModel(call_tools=["delete_file"]), output_type=[str, DeferredToolRequests])
with gait.record(run_id="run_approved", capture_mode="raw"):
    paused = agent.run_sync("clean up", toolsets=tools())
    (call,) = paused.output.approvals
    approve = paused.output.metadata[call.tool_call_id]["gait"]["approve"]
    subprocess.run(approve.replace('"$USER"', "bob"), shell=True, check=True, capture_output=True)
    approved = DeferredToolResults(approvals={call.tool_call_id: True})
    done = agent.run_sync(
        message_history=paused.all_messages(),
        deferred_tool_results=approved,
        toolsets=tools(approval_token="approval_token.json"),
    )
print(done.output)
'''


def test_an_approved_run_replays_clean(workdir: Path, run_gait) -> None:
    """The runpack holds the stopped attempt and then the approved one, with the same
    arguments; on replay each takes its own place (the approved call is not served the stopped
    attempt's result) and the tool never runs."""
    (workdir / "policy.yaml").write_text(APPROVAL_POLICY, encoding="utf-8")
    (workdir / "agent.py").write_text(APPROVING_AGENT, encoding="utf-8")
    argv = [sys.executable, "agent.py"]
    recorded = subprocess.run(argv, cwd=workdir, capture_output=True, text=True, check=False)
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    assert "deleted a" in recorded.stdout
    (workdir / "side_effects.log").unlink()
    init = run_gait("regress", "init", "--from", "run_approved", "--command", " ".join(argv))
    assert init.returncode == 0, init.stdout + init.stderr
    replay = run_gait("regress", "run", timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert not (workdir / "side_effects.log").exists()


def test_an_inline_approval_handler_needs_the_gates_token(workdir: Path, run_gait) -> None:
    """pydantic-ai's ``HandleDeferredToolCalls`` resolves the deferral inside the run. A handler
    that approves everything does not get the call past the gate; one that has the approver
    mint the token where the adapter reads it does, in the same run."""
    from pydantic_ai import DeferredToolRequests
    from pydantic_ai.capabilities import HandleDeferredToolCalls

    (workdir / "policy.yaml").write_text(APPROVAL_POLICY, encoding="utf-8")
    ran: list[str] = []
    gate = GaitCapability(
        adapter=ToolAdapter(policy_path="policy.yaml", approval_token="approval_token.json"),
        on_approval="defer",
    )

    def approve_all(ctx: RunContext[None], requests: DeferredToolRequests) -> Any:
        return requests.build_results(approve_all=True)

    def approver_mints(ctx: RunContext[None], requests: DeferredToolRequests) -> Any:
        for call in requests.approvals:
            command = requests.metadata[call.tool_call_id]["gait"]["approve"]
            argv = command.replace('"$USER"', "bob").split()[1:]
            assert run_gait(*argv, cwd=workdir).returncode == 0
        return requests.build_results(approve_all=True)

    for handler, expected in [(approve_all, []), (approver_mints, ["delete"])]:
        agent = Agent(
            TestModel(call_tools=["delete_file"]),
            tools=tool_functions(ran)[1:],
            capabilities=[gate, HandleDeferredToolCalls(handler=handler)],
        )
        output = agent.run_sync("clean up").output
        assert ran == expected, output
    assert "deleted" in output
