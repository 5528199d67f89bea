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
``ToolInputGuardrailTripwireTriggered``. ``GaitRunHooks`` records each call that runs (its
arguments and output) into the current ``gait.record`` run (or ``recorder=``); calls the
guardrail stopped are recorded by the guardrail, so the runpack holds every attempt, in the
order the model asked for them (the hooks keep each call its place as the model answers). Inside a
reference-style ``run_session`` each attempt is recorded there too. While
``GAIT_REPLAY_FROM`` names a runpack, the guardrail answers allowed calls from it (the
recorded output reaches the model in place of the tool's) and the tools do not run.

The Agents SDK is an optional dependency: ``pip install 'pytest-gait[openai-agents]'``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any, Literal

try:
    from agents import (
        FunctionTool,
        RunContextWrapper,
        RunHooks,
        ToolGuardrailFunctionOutput,
        ToolInputGuardrail,
        ToolInputGuardrailData,
    )
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
    build_intent,
    replay_stubs,
    replayed_value,
    stopped_message,
)

# Decisions the guardrail made, by tool call id, for the hooks to record with the call.
_DECIDED: dict[str, Call] = {}
_LOCK = threading.Lock()


def _arguments(text: str | None) -> dict[str, Any]:
    """The call's arguments; text that is no JSON reaches the gate as ``raw_arguments``, and
    JSON with a duplicate key or NaN is refused (``E_ADAPTER_INPUT_INVALID``: the tool might
    read a value other than the one the gate decided on), so the run stops before the tool."""
    from gait.adapters._gating import NOT_JSON, strict_json_text

    value = strict_json_text(text or "{}", "tool-call arguments")
    if value is NOT_JSON:
        return {"raw_arguments": text or ""}
    return value if isinstance(value, dict) else {"value": value}


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
        call = Call(
            adapter, intent, recorder, record_now=False, turn=(tool_context.tool_call_id, [])
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
        if call.allowed:
            stubs = replay_stubs()
            if stubs is not None:
                # Replay: the recorded output stands in for the tool, which does not run.
                call.open()
                value = replayed_value(stubs, call)
                call.finished(value)
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
                return ToolGuardrailFunctionOutput.reject_content(text, {**info, "replayed": True})
            # Recorded now, as a stopped call is, in the place GaitRunHooks kept for it.
            call.open()
            with _LOCK:
                _DECIDED[tool_context.tool_call_id] = call
            return ToolGuardrailFunctionOutput.allow(output_info=info)
        call.open()
        call.stopped()
        if on_block == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info=info)
        return ToolGuardrailFunctionOutput.reject_content(stopped_message(decision), info)

    return ToolInputGuardrail(guardrail_function=decide, name=name)


def gate_tools(tools: Iterable[Any], guardrail: ToolInputGuardrail[Any]) -> list[Any]:
    """Add ``guardrail`` to every ``FunctionTool`` in ``tools`` (others are returned as given)."""
    out = []
    for tool in tools:
        if isinstance(tool, FunctionTool):
            existing = list(tool.tool_input_guardrails or [])
            if guardrail not in existing:
                tool.tool_input_guardrails = [*existing, guardrail]
        out.append(tool)
    return out


class GaitRunHooks(RunHooks[Any]):
    """Run hooks recording each tool call of a run (arguments, then output) as a runpack step.

    Records into ``recorder`` or, by default, the ``gait.record`` run current when the tool
    starts. Calls the guardrail allowed are also recorded into the active ``run_session``.
    """

    def __init__(self, *, recorder: Any = None) -> None:
        super().__init__()
        self._recorder = recorder
        self._open: dict[str, Call] = {}
        self._lock = threading.Lock()

    async def on_llm_end(self, context: RunContextWrapper[Any], agent: Any, response: Any) -> None:
        """Keep each tool call of this model response a place, in the model's order: the SDK
        runs them concurrently, and the runpack must not depend on which got going first."""
        from gait.runpack.recorder import current_run

        recorder = self._recorder or current_run()
        ids = [
            item.call_id
            for item in getattr(response, "output", ())
            if getattr(item, "type", "") == "function_call" and getattr(item, "call_id", "")
        ]
        if recorder is not None and ids:
            recorder.expect(ids)
        session = get_active_run_session()
        if session is not None and ids:
            session.expect(ids)

    async def on_tool_start(self, context: RunContextWrapper[Any], agent: Any, tool: Any) -> None:
        if not isinstance(context, ToolContext):
            return
        with _LOCK:
            call = _DECIDED.pop(context.tool_call_id, None)
        if call is None:
            intent = build_intent(
                context.tool_name, _arguments(context.tool_arguments), None, context, "openai-agent"
            )
            call = Call(None, intent, None, record_now=False, turn=(context.tool_call_id, []))
        if call.recorder is None or self._recorder is not None:
            call.use_recorder(self._recorder)
        call.open()
        with self._lock:
            self._open[context.tool_call_id] = call

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Any, tool: Any, result: Any
    ) -> None:
        if not isinstance(context, ToolContext):
            return
        with self._lock:
            call = self._open.pop(context.tool_call_id, None)
        if call is not None:
            call.finished(result)
