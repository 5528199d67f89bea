"""One model turn asks for several tool calls; every framework runs them concurrently.

The runpack must read in the model's order (intents, and results in their intents' order),
however the calls were scheduled or finished: the trajectory grader compares sequences, and a
replay (where allowed calls are answered from the runpack at once) finishes them in another
order than the recording did. Each agent below is a user's script: a slow layer of the user's
own (a middleware, a wrapper toolset, a guardrail) holds the first call back before Gait sees
it, and the first tool is the slowest to finish, so arrival and completion order both differ
from the model's. The regression loop on that agent (``regress init --command`` then
``regress run``) must pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from agent_scenario import workdir_fixture  # noqa: F401 (the workdir fixture)

POLICY = """\
default_verdict: block
rules:
  - {name: allow-read, priority: 10, effect: allow, match: {tool_names: [search, read_file]}}
  - name: block-delete
    priority: 20
    effect: block
    match: {tool_names: [delete_file]}
    reason_codes: [destructive_delete]
"""

MODEL_ORDER = ["search", "read_file", "delete_file"]

LANGCHAIN = """
import time

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

import gait
from gait import GaitLangChainMiddleware, ToolAdapter


class FakeModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


class HoldSearch(AgentMiddleware):  # the user's own middleware, outside Gait's
    def wrap_tool_call(self, request, handler):
        if request.tool_call["name"] == "search":
            time.sleep(0.3)
        return handler(request)


@tool
def search(q: str) -> str:
    \"\"\"Search.\"\"\"
    time.sleep(0.2)
    return "found " + q


@tool
def read_file(path: str) -> str:
    \"\"\"Read a file.\"\"\"
    return "contents of " + path


@tool
def delete_file(path: str) -> str:
    \"\"\"Delete a file.\"\"\"
    raise SystemExit("never runs")


turn = AIMessage("", tool_calls=[
    {"name": "search", "args": {"q": "refund"}, "id": "c1"},
    {"name": "read_file", "args": {"path": "/a"}, "id": "c2"},
    {"name": "delete_file", "args": {"path": "/a"}, "id": "c3"},
])
adapter = ToolAdapter(policy_path="policy.yaml")
gate = GaitLangChainMiddleware(adapter, blocked_response="tool_message")
agent = create_agent(
    model=FakeModel(messages=iter([turn, AIMessage("done")])),
    tools=[search, read_file, delete_file],
    middleware=[HoldSearch(), gate],
)
with gait.record(run_id="run_turn", capture_mode="raw"):
    agent.invoke({"messages": [{"role": "user", "content": "go"}]})
"""

# The reference SDK's way: a run_session (raw, with payloads) instead of gait.record.
LANGCHAIN_SESSION = LANGCHAIN.replace(
    "from gait import GaitLangChainMiddleware, ToolAdapter",
    "from gait import GaitLangChainMiddleware, ToolAdapter, run_session",
).replace(
    'with gait.record(run_id="run_turn", capture_mode="raw"):',
    'with run_session(run_id="run_turn", capture_mode="raw", include_raw_payload=True):',
)

PYDANTIC_AI = """
import asyncio

from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.toolsets import FunctionToolset, WrapperToolset

import gait
from gait import ToolAdapter
from gait.integrations.pydantic_ai import GaitToolset


class HoldSearch(WrapperToolset):  # the user's own wrapper, outside Gait's
    async def call_tool(self, name, tool_args, ctx, tool):
        if name == "search":
            await asyncio.sleep(0.3)
        return await super().call_tool(name, tool_args, ctx, tool)


async def search(q: str) -> str:
    \"\"\"Search.\"\"\"
    await asyncio.sleep(0.2)
    return "found " + q


def read_file(path: str) -> str:
    \"\"\"Read a file.\"\"\"
    return "contents of " + path


def delete_file(path: str) -> str:
    \"\"\"Delete a file.\"\"\"
    raise SystemExit("never runs")


def model(messages, info):
    if len(messages) == 1:
        return ModelResponse(parts=[
            ToolCallPart("search", {"q": "refund"}, tool_call_id="c1"),
            ToolCallPart("read_file", {"path": "/a"}, tool_call_id="c2"),
            ToolCallPart("delete_file", {"path": "/a"}, tool_call_id="c3"),
        ])
    return ModelResponse(parts=[TextPart("done")])


adapter = ToolAdapter(policy_path="policy.yaml")
gated = GaitToolset(FunctionToolset([search, read_file, delete_file]), adapter=adapter)
agent = Agent(FunctionModel(model), toolsets=[HoldSearch(gated)])
with gait.record(run_id="run_turn", capture_mode="raw"):
    agent.run_sync("go")
"""

OPENAI_AGENTS = """
import asyncio

from agents import Agent, Runner, ToolGuardrailFunctionOutput, ToolInputGuardrail
from agents import function_tool, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall

import gait
from gait import ToolAdapter
from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail


class FakeModel(Model):
    turns = 0

    async def get_response(self, *args, **kwargs):
        self.turns += 1
        if self.turns > 1:
            return ModelResponse(output=[], usage=Usage(), response_id=None)
        calls = [
            ("c1", "search", '{"q": "refund"}'),
            ("c2", "read_file", '{"path": "/a"}'),
            ("c3", "delete_file", '{"path": "/a"}'),
        ]
        output = [
            ResponseFunctionToolCall(type="function_call", call_id=i, name=n, arguments=a)
            for i, n, a in calls
        ]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):
        raise NotImplementedError


async def hold_search(data):  # the user's own guardrail, before Gait's
    if data.context.tool_name == "search":
        await asyncio.sleep(0.3)
    return ToolGuardrailFunctionOutput.allow()


guards = [
    ToolInputGuardrail(guardrail_function=hold_search, name="hold"),
    gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml")),
]


@function_tool(tool_input_guardrails=guards)
async def search(q: str) -> str:
    \"\"\"Search.\"\"\"
    await asyncio.sleep(0.2)
    return "found " + q


@function_tool(tool_input_guardrails=guards)
def read_file(path: str) -> str:
    \"\"\"Read a file.\"\"\"
    return "contents of " + path


@function_tool(tool_input_guardrails=guards)
def delete_file(path: str) -> str:
    \"\"\"Delete a file.\"\"\"
    raise SystemExit("never runs")


set_tracing_disabled(True)
agent = Agent(name="helper", model=FakeModel(), tools=[search, read_file, delete_file])
with gait.record(run_id="run_turn", capture_mode="raw"):
    asyncio.run(Runner.run(agent, "go", hooks=GaitRunHooks()))
"""


def _members(runpack: Path) -> tuple[list[dict], list[dict]]:
    with zipfile.ZipFile(runpack) as archive:
        return tuple(  # type: ignore[return-value]
            [json.loads(line) for line in archive.read(name).splitlines()]
            for name in ("intents.jsonl", "results.jsonl")
        )


RECORD_IDS = ["intent_1", "intent_2", "intent_3"]
SESSION_IDS = ["intent_0001", "intent_0002", "intent_0003"]


@pytest.mark.parametrize(
    ("module", "script", "ids"),
    [
        ("langchain", LANGCHAIN, RECORD_IDS),
        ("langchain", LANGCHAIN_SESSION, SESSION_IDS),
        ("pydantic_ai", PYDANTIC_AI, RECORD_IDS),
        ("agents", OPENAI_AGENTS, RECORD_IDS),
    ],
    ids=["langchain", "langchain-run-session", "pydantic-ai", "openai-agents"],
)
def test_a_turn_of_concurrent_calls_records_in_the_models_order_and_replays_clean(
    workdir: Path, run_gait, module: str, script: str, ids: list[str]
) -> None:  # noqa: ANN001
    """With a run_session, this also holds that the session writes where regress reads the
    candidate ($GAIT_RECORD_TO), that a replay hands the tool its value (not the session's
    gate envelope around it), and that fresh retrieval times in the receipts are no drift."""
    pytest.importorskip(module, reason=f"{module} not installed (its integration's extra)")
    (workdir / "policy.yaml").write_text(POLICY, encoding="utf-8")
    (workdir / "agent.py").write_text(script, encoding="utf-8")
    recorded = subprocess.run(
        [sys.executable, "agent.py"], cwd=workdir, capture_output=True, text=True, check=False
    )
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    intents, results = _members(workdir / "gait-out" / "runpack_run_turn.zip")
    assert [i["tool_name"] for i in intents] == MODEL_ORDER
    assert [i["intent_id"] for i in intents] == ids
    assert [r["intent_id"] for r in results] == ids
    assert [r["status"] for r in results][:2] == ["ok", "ok"]

    command = f"{sys.executable} agent.py"
    init = run_gait("regress", "init", "--from", "run_turn", "--command", command)
    assert init.returncode == 0, init.stdout + init.stderr
    replay = run_gait("regress", "run", timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
