"""pydantic-ai: gate and record every tool call of an agent through a toolset wrapper.

::

    from gait import ToolAdapter
    from gait.integrations.pydantic_ai import GaitToolset

    toolset = GaitToolset(FunctionToolset([read_file, delete_file]),
                          adapter=ToolAdapter(policy_path="policy.yaml"))
    agent = Agent(model, toolsets=[toolset])

or, for every tool of the agent (``tools=[...]``, ``@agent.tool``, its toolsets)::

    agent = Agent(model, tools=[read_file, delete_file],
                  capabilities=[GaitCapability(adapter=ToolAdapter(policy_path="policy.yaml"))])

Each call is decided in-process before the tool runs. A call the gate stops never runs: by
default the model receives a message naming the verdict and reason codes as the tool's
result (``on_block="message"``); ``"retry"`` sends it as a ``ModelRetry`` instead, and
``"raise"`` raises ``GateEnforcementError`` out of the run. ``on_approval="defer"`` hands a
``require_approval`` verdict to pydantic-ai's human-in-the-loop instead: the call is deferred
(``ApprovalRequired``), the run ends with ``DeferredToolRequests`` whose metadata carries the
``gait approve`` command, and the resumed run (``deferred_tool_results``) asks the gate again,
which lets the call run only with the minted token (``ToolAdapter(approval_token=...)``).

Calls are recorded into the active ``run_session`` and into the current ``gait.record`` run (or
``recorder=``), whichever is open; calls made inside a recorded tool (an agent the tool
delegates to) are gated but are that tool's work, not steps, as for ``gait.record.tool`` (a
replay answers the outer call whole). Without ``adapter`` the toolset only records. While
``GAIT_REPLAY_FROM`` names a runpack, allowed calls are answered from it and the tools do not
run.

pydantic-ai is an optional dependency: ``pip install 'pytest-gait[pydantic-ai]'``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

try:
    from pydantic_ai import ApprovalRequired, ModelRetry, RunContext
    from pydantic_ai.capabilities import AbstractCapability
    from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
    from pydantic_ai.toolsets.function import FunctionToolsetTool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "gait.integrations.pydantic_ai needs pydantic-ai: pip install 'pytest-gait[pydantic-ai]'"
    ) from exc

from gait.compat.adapter import GateEnforcementError, ToolAdapter
from gait.integrations._calls import (
    Call,
    ContextSource,
    approve_command,
    build_intent,
    run_async,
    stopped_message,
)
from gait.retype import declared_return, retyped
from gait.runpack.recorded_tool import inside_a_tool


@dataclass
class GaitToolset(WrapperToolset[Any]):
    """A ``WrapperToolset`` whose ``call_tool`` asks the gate first and records the call."""

    adapter: ToolAdapter | None = None
    context: ContextSource = None
    on_block: Literal["message", "retry", "raise"] = "message"
    recorder: Any = None
    on_approval: Literal["defer"] | None = None

    def __post_init__(self) -> None:
        _check_modes(self.on_block, self.on_approval)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: Any
    ) -> Any:
        intent = build_intent(name, tool_args, self.context, ctx, "pydantic-ai-agent")
        step = not inside_a_tool()  # a gated agent run from a recorded tool: that tool's work
        call = Call(
            self.adapter, intent, self.recorder, turn=_turn(ctx) if step else None, step=step
        )
        if not call.allowed:
            call.stopped()
            assert call.decision is not None
            if (
                self.on_approval == "defer"
                and call.decision.verdict == "require_approval"
                and not ctx.tool_call_approved  # approved, yet no token: fail closed below
            ):
                raise ApprovalRequired(metadata={"gait": approval_metadata(name, call.decision)})
            if self.on_block == "raise":
                raise GateEnforcementError(call.decision)
            if self.on_block == "retry":
                raise ModelRetry(stopped_message(call.decision))
            return stopped_message(call.decision)
        return await run_async(
            call,
            lambda: self.wrapped.call_tool(name, tool_args, ctx, tool),
            lambda value: _rebuilt(_declared_return(tool), value, name),
        )


@dataclass
class GaitCapability(AbstractCapability[Any]):
    """Gates and records every tool of the agent: ``GaitToolset`` around the toolset pydantic-ai
    assembles for each run (the agent's ``tools=``, ``@agent.tool`` functions, its toolsets and
    a run's ``toolsets=``; not output tools). Use it or ``GaitToolset``, not both on one tool:
    each would gate and record the call."""

    adapter: ToolAdapter | None = None
    context: ContextSource = None
    on_block: Literal["message", "retry", "raise"] = "message"
    recorder: Any = None
    on_approval: Literal["defer"] | None = None

    def __post_init__(self) -> None:
        _check_modes(self.on_block, self.on_approval)

    @classmethod
    def get_serialization_name(cls) -> str | None:
        return None  # holds an adapter and callables: not part of an agent spec

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
        return GaitToolset(
            toolset,
            adapter=self.adapter,
            context=self.context,
            on_block=self.on_block,
            recorder=self.recorder,
            on_approval=self.on_approval,
        )


def _check_modes(on_block: str, on_approval: str | None) -> None:
    if on_block not in ("message", "retry", "raise"):
        raise ValueError(f"on_block must be 'message', 'retry' or 'raise', not {on_block!r}")
    if on_approval not in (None, "defer"):
        raise ValueError(f"on_approval must be 'defer' or None, not {on_approval!r}")


def approval_metadata(tool_name: str, decision: Any) -> dict[str, Any]:
    """What the approver needs, in ``DeferredToolRequests.metadata[tool_call_id]["gait"]``: the
    decision and the ``gait approve`` command whose token the resumed call needs (the tool's
    scope: these intents carry no targets, so no destructive-apply scope is asked)."""
    return {
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "intent_digest": decision.intent_digest,
        "policy_digest": decision.policy_digest,
        "approve": approve_command(tool_name, decision),
    }


def _rebuilt(hint: Any, value: Any, tool_name: str) -> Any:
    """A replayed (JSON) result as the type the tool declares, validated by pydantic as
    pydantic-ai itself reads tool values (its unions: ``ToolReturn.content`` holding text and
    ``BinaryContent``; bytes as the base64 the runpack holds); what pydantic cannot validate
    goes through ``gait.retype``, which hands back the JSON with a warning if it does not fit."""
    if hint is Any or value is None:
        return value
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError

    try:
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(
                hint, config=ConfigDict(val_json_bytes="base64")
            )
        except PydanticUserError:  # a model or dataclass: its own config says how bytes read
            adapter = TypeAdapter(hint)
        return adapter.validate_json(json.dumps(value))
    except (PydanticUserError, ValidationError, TypeError, ValueError):
        return retyped(hint, value, tool_name)


def _declared_return(tool: Any) -> Any:
    """The return annotation of the function behind ``tool`` (through combined toolsets), so a
    replayed result is what the tool returned (a ``ToolReturn``, ``BinaryContent``, a model),
    not its JSON; ``Any`` for other toolsets (MCP servers, external tools)."""
    for _ in range(64):  # a combined toolset's tool holds its source toolset's tool
        if isinstance(tool, FunctionToolsetTool) and isinstance(tool.toolset, FunctionToolset):
            entry = tool.toolset.tools.get(tool.original_name or tool.tool_def.name)
            return declared_return(entry.function) if entry is not None else Any
        tool = getattr(tool, "source_tool", None)
        if tool is None:
            break
    return Any


def _turn(ctx: RunContext[Any]) -> tuple[str, list[str]] | None:
    """This call's id and those of the model response that asked for it, in its order."""
    call_id = ctx.tool_call_id
    if not call_id:
        return None
    for message in reversed(ctx.messages):
        ids = [
            part.tool_call_id
            for part in getattr(message, "parts", ())
            if getattr(part, "part_kind", "") == "tool-call"
        ]
        if call_id in ids:
            return call_id, ids
    return None
