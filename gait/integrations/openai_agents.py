"""OpenAI Agents SDK: record every tool call of ``Runner.run`` and gate ``function_tool``s.

::

    from gait import ToolAdapter
    from gait.integrations.openai_agents import GaitRunHooks, gait_tool_guardrail, gate_tools

    guardrail = gait_tool_guardrail(ToolAdapter(policy_path="policy.yaml"))
    tools = gate_tools([read_file, delete_file], guardrail)   # or tool_input_guardrails=[...]
    with gait.record(run_id="run_agents"):
        result = await Runner.run(agent, "clean up", hooks=GaitRunHooks())

The guardrail decides each call in-process before the tool runs. A call the gate stops never
runs: the model gets the guardrail's rejection (naming the verdict and reason codes) in place
of the tool's output, or, with ``on_block="raise"``, the run stops with the SDK's
``ToolInputGuardrailTripwireTriggered``. Calls the guardrail stopped are recorded by the
guardrail; ``gate_tools`` (function tools and ``agents.mcp`` servers) also gives each tool a
tool output guardrail that records what it returned, so a gated tool is recorded whole without
hooks (in a nested agent too).
``GaitRunHooks`` records the calls of tools without the guardrail and keeps each call of a model
turn its place in the model's order (the SDK runs a turn's calls concurrently). Handoffs are
not tool calls, and an agent used as a tool (``Agent.as_tool``) is not a step: the calls its
agent makes are (pass ``hooks=GaitRunHooks()`` to ``as_tool`` too, for their turn order).
As for ``gait.record.tool`` functions in one another, what a tool's code calls is its work: a
``gait.record.tool`` function the tool calls, or an agent run from inside a recorded function,
is gated but no step (a replay answers the outer call whole).
Inside a reference-style ``run_session`` each attempt is recorded there too.

A ``require_approval`` verdict stops the call like a block. The SDK's own ``needs_approval``
does not pass the gate: approved there, the call still needs the gate's token. The
``gait approve`` command minting it is in ``approval_requests(guardrail)`` (by tool call id);
resume the run from its interruption with the tools given a guardrail whose adapter holds the
token (``gate_tools`` puts it in place of the old one) and the call runs.

While ``GAIT_REPLAY_FROM`` names a runpack, the guardrail answers allowed calls from it: the
recorded result, rebuilt as the type the tool's function declares, reaches the model as the SDK
would have rendered it, and the tool does not run. A tool without the guardrail cannot be
answered so: ``GaitRunHooks`` stops the run before it runs (``E_REPLAY_REAL_TOOL_DISABLED``).

The Agents SDK is an optional dependency: ``pip install 'pytest-gait[openai-agents]'``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from typing import Any, Literal

try:
    from agents import (
        FunctionTool,
        ItemHelpers,
        RunContextWrapper,
        RunHooks,
        ToolGuardrailFunctionOutput,
        ToolInputGuardrail,
        ToolInputGuardrailData,
        ToolOutputGuardrail,
        ToolOutputGuardrailData,
    )
    from agents.handoffs import Handoff
    from agents.tool_context import ToolContext
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "gait.integrations.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'pytest-gait[openai-agents]'"
    ) from exc

from gait.compat.adapter import ToolAdapter
from gait.compat.session import get_active_run_session
from gait.integrations._calls import (
    Call,
    ContextSource,
    approve_command,
    build_intent,
    replay_stubs,
    replayed_value,
    stopped_message,
)
from gait.runpack.recorded_tool import enter_tool_work, inside_a_tool

# The calls opened and not finished yet, by their ToolContext (the one object the SDK hands
# the input guardrails, the hooks and the output guardrails of one call): the guardrail opens
# a call, whichever of the output guardrail and ``on_tool_end`` comes first records its result.
# Weakly: a call that never finishes (cancelled, or raising past the SDK) goes with its context.
_OPEN: weakref.WeakKeyDictionary[Any, Call] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _register(context: ToolContext[Any], call: Call) -> None:
    with _LOCK:
        _OPEN[context] = call


def _registered(context: Any, *, pop: bool) -> Call | None:
    try:
        with _LOCK:
            return _OPEN.pop(context, None) if pop else _OPEN.get(context)
    except TypeError:  # not weakly referable (not a ToolContext): never registered
        return None


def _arguments(text: str | None) -> dict[str, Any]:
    """The call's arguments; text that is no JSON reaches the gate as ``raw_arguments``, and
    JSON with a duplicate key or NaN is refused (``E_ADAPTER_INPUT_INVALID``: the tool might
    read a value other than the one the gate decided on), so the run stops before the tool."""
    from gait.adapters._gating import NOT_JSON, strict_json_text

    value = strict_json_text(text or "{}", "tool-call arguments")
    if value is NOT_JSON:
        return {"raw_arguments": text or ""}
    return value if isinstance(value, dict) else {"value": value}


def _tool_named(agent: Any, name: str) -> FunctionTool | None:
    for tool in getattr(agent, "tools", None) or ():
        if isinstance(tool, FunctionTool) and tool.name == name:
            return tool
    return None


def _is_agent_tool(tool: Any) -> bool:
    """``Agent.as_tool``: running it is another agent's run, whose own tool calls are the
    steps (recorded, gated and answered on replay one by one), not one step of its own."""
    return bool(getattr(tool, "_is_agent_tool", False))


def _not_steps(agent: Any) -> set[str]:
    """Names the model calls that are no tool calls of this run: handoffs and agent tools."""
    names = {tool.name for tool in getattr(agent, "tools", None) or () if _is_agent_tool(tool)}
    for target in getattr(agent, "handoffs", None) or ():
        if isinstance(target, Handoff):
            names.add(target.tool_name)
        else:
            names.add(Handoff.default_tool_name(target))
    return names


def _replayed_output(value: Any, raw: bool, tool: FunctionTool | None, context: Any) -> Any:
    """The recorded result, for the SDK to hand the model as it handed it the tool's output
    (``str()`` of a list or a model, an MCP tool's content as structured input): rebuilt as the
    type the tool's function declares. A tool with an output schema is rendered here, as the
    SDK renders it (the SDK hands a guardrail's answer on without the schema)."""
    if tool is None:
        return value  # an MCP server's tool, say: its content as recorded
    if raw:
        try:
            fn = tool.__wrapped__
        except AttributeError:
            fn = None
        if fn is not None:
            from gait.retype import declared_return, retyped

            value = retyped(declared_return(fn), value, tool.name)
    adapter = getattr(tool, "_output_type_adapter", None)
    tool_call = getattr(context, "tool_call", None)
    if (tool.output_json_schema is None and adapter is None) or tool_call is None:
        return value
    item = ItemHelpers.tool_call_output_item(
        tool_call, value, output_json_schema=tool.output_json_schema, output_type_adapter=adapter
    )
    return item["output"]


def gait_tool_guardrail(
    adapter: ToolAdapter,
    *,
    context: ContextSource = None,
    on_block: Literal["reject", "raise"] = "reject",
    recorder: Any = None,
    name: str = "gait_gate",
) -> ToolInputGuardrail[Any]:
    """A tool input guardrail that asks the gate about each call of the tools it guards.

    ``context`` is an ``IntentContext`` or a function of the ``ToolContext`` returning one
    (default: identity ``openai-agent``, the working directory, risk class ``high``).
    """
    if on_block not in ("reject", "raise"):
        raise ValueError("on_block must be 'reject' or 'raise'")

    def decide(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        tool_context = data.context
        args = _arguments(tool_context.tool_arguments)
        intent = build_intent(tool_context.tool_name, args, context, tool_context, "openai-agent")
        # Called from inside a recorded tool (its code runs an agent): gated, that tool's work.
        step = not inside_a_tool()
        call = Call(
            adapter,
            intent,
            recorder,
            record_now=False,
            turn=(tool_context.tool_call_id, []) if step else None,
            step=step,
        )
        decision = call.decision
        assert decision is not None
        info = {
            "verdict": decision.verdict,
            "reason_codes": list(decision.reason_codes),
            "trace_id": decision.trace_id,
            "intent_digest": decision.intent_digest,
            "policy_digest": decision.policy_digest,
        }
        if decision.verdict == "require_approval":
            info["approve"] = approve_command(tool_context.tool_name, decision)
            with _LOCK:
                asked[tool_context.tool_call_id] = info
        tool = _tool_named(data.agent, tool_context.tool_name)
        if call.allowed:
            if _is_agent_tool(tool) or not step:
                return ToolGuardrailFunctionOutput.allow(output_info=info)
            stubs = replay_stubs()
            if stubs is not None:
                # Replay: the recorded output stands in for the tool, which does not run.
                call.open()
                value = replayed_value(stubs, call)
                call.finished(value)
                raw = stubs.runpack.capture_mode == "raw"
                text = _replayed_output(value, raw, tool, tool_context)
                return ToolGuardrailFunctionOutput.reject_content(text, {**info, "replayed": True})
            # Recorded now, as a stopped call is, in the place GaitRunHooks kept for it.
            call.open()
            _register(tool_context, call)
            # The tool's code is its work: a gait.record.tool function it calls is no step of
            # its own (a replay answers this call whole). The SDK runs each call in a task of
            # its own, invoking the tool after its input guardrails, so this reaches the tool
            # and ends with the call.
            enter_tool_work()
            return ToolGuardrailFunctionOutput.allow(output_info=info)
        call.open()
        call.stopped()
        if on_block == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info=info)
        return ToolGuardrailFunctionOutput.reject_content(stopped_message(decision), info)

    asked: dict[str, dict[str, Any]] = {}
    decide._gait_gate = True  # type: ignore[attr-defined]  # gate_tools replaces it, not stacks
    decide._gait_asked = asked  # type: ignore[attr-defined]
    return ToolInputGuardrail(guardrail_function=decide, name=name)


def approval_requests(guardrail: ToolInputGuardrail[Any]) -> dict[str, dict[str, Any]]:
    """The calls ``guardrail`` sent to approval, by tool call id: each verdict, reason codes,
    digests and the ``gait approve`` command minting the token the call needs (the SDK does
    not hand a resumed run's guardrail results back in its result)."""
    with _LOCK:
        return dict(getattr(guardrail.guardrail_function, "_gait_asked", {}))


def _is_gait_gate(guardrail: Any) -> bool:
    return bool(getattr(getattr(guardrail, "guardrail_function", None), "_gait_gate", False))


def _record_output(data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
    call = _registered(data.context, pop=True)
    if call is not None:
        call.finished(data.output)
    return ToolGuardrailFunctionOutput.allow()


_RECORD_OUTPUT: ToolOutputGuardrail[Any] = ToolOutputGuardrail(
    guardrail_function=_record_output, name="gait_record"
)


def gate_tools(tools: Iterable[Any], guardrail: ToolInputGuardrail[Any]) -> list[Any]:
    """Add ``guardrail`` to every ``FunctionTool`` and MCP server (``agents.mcp``: each tool it
    lists) in ``tools`` (others are returned as given),
    in place of a Gait guardrail given before (a new adapter, say one holding an approval
    token, replaces the old one: two would each decide), and the output guardrail recording
    what each returns."""
    out = []
    for tool in tools:
        if isinstance(tool, FunctionTool) or _is_mcp_server(tool):
            existing = list(tool.tool_input_guardrails or [])
            if guardrail not in existing:
                kept = [g for g in existing if not _is_gait_gate(g)]
                tool.tool_input_guardrails = [*kept, guardrail]
            outputs = list(tool.tool_output_guardrails or [])
            if _RECORD_OUTPUT not in outputs:
                tool.tool_output_guardrails = [_RECORD_OUTPUT, *outputs]
        out.append(tool)
    return out


def _is_mcp_server(value: Any) -> bool:
    """An ``agents.mcp`` server: the SDK gives the guardrails it holds to every tool it lists
    (checked by shape, so the MCP extra is not imported for agents without one)."""
    return hasattr(value, "list_tools") and hasattr(value, "tool_input_guardrails")


class GaitRunHooks(RunHooks[Any]):
    """Run hooks recording each tool call of a run (arguments, then output) as a runpack step.

    Records into ``recorder`` or, by default, the ``gait.record`` run current when the tool
    starts. Calls the guardrail allowed are also recorded into the active ``run_session``.
    ``Runner.run`` takes one ``hooks=``: an agent's own run hooks are passed as ``hooks`` and
    get every event after Gait's.
    """

    def __init__(self, *, recorder: Any = None, hooks: RunHooks[Any] | None = None) -> None:
        super().__init__()
        self._recorder = recorder
        self._hooks = hooks

    async def on_llm_start(
        self, context: RunContextWrapper[Any], agent: Any, system_prompt: Any, input_items: Any
    ) -> None:
        if self._hooks is not None:
            await self._hooks.on_llm_start(context, agent, system_prompt, input_items)

    async def on_agent_start(self, context: Any, agent: Any) -> None:
        if self._hooks is not None:
            await self._hooks.on_agent_start(context, agent)

    async def on_agent_end(self, context: Any, agent: Any, output: Any) -> None:
        if self._hooks is not None:
            await self._hooks.on_agent_end(context, agent, output)

    async def on_handoff(
        self, context: RunContextWrapper[Any], from_agent: Any, to_agent: Any
    ) -> None:
        if self._hooks is not None:
            await self._hooks.on_handoff(context, from_agent, to_agent)

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Any, response: Any) -> None:
        """Keep each tool call of this model response a place, in the model's order: the SDK
        runs them concurrently, and the runpack must not depend on which got going first."""
        from gait.runpack.recorder import current_run

        recorder = self._recorder or current_run()
        skip = _not_steps(agent)
        ids = [
            item.call_id
            for item in getattr(response, "output", ())
            if getattr(item, "type", "") == "function_call"
            and getattr(item, "call_id", "")
            and getattr(item, "name", "") not in skip
        ]
        if recorder is not None and ids:
            recorder.expect(ids)
        session = get_active_run_session()
        if session is not None and ids:
            session.expect(ids)
        if self._hooks is not None:
            await self._hooks.on_llm_end(context, agent, response)

    async def on_tool_start(self, context: RunContextWrapper[Any], agent: Any, tool: Any) -> None:
        self._tool_start(context, tool)
        if self._hooks is not None:
            await self._hooks.on_tool_start(context, agent, tool)

    def _tool_start(self, context: RunContextWrapper[Any], tool: Any) -> None:
        if not isinstance(context, ToolContext) or _is_agent_tool(tool):
            return
        call = _registered(context, pop=False)
        if call is None:
            stubs = replay_stubs()
            if stubs is not None and not stubs.real_tool_allowed(context.tool_name):
                from gait.errors import UnsafeOperation

                raise UnsafeOperation(
                    f"replay cannot answer {context.tool_name!r}: the tool has no Gait "
                    "guardrail, so it would really run; add it with gate_tools(...)",
                    code="E_REPLAY_REAL_TOOL_DISABLED",
                )
            intent = build_intent(
                context.tool_name, _arguments(context.tool_arguments), None, context, "openai-agent"
            )
            call = Call(None, intent, None, record_now=False, turn=(context.tool_call_id, []))
            _register(context, call)
        if call.recorder is None or self._recorder is not None:
            call.use_recorder(self._recorder)
        call.open()

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Any, tool: Any, result: Any
    ) -> None:
        if isinstance(context, ToolContext):
            call = _registered(context, pop=True)
            if call is not None:
                call.finished(result)
        if self._hooks is not None:
            await self._hooks.on_tool_end(context, agent, tool, result)
