"""Reference adapter: gate OpenAI-style tool calls (plain dicts, no ``openai`` dependency).

Takes Chat Completions ``tool_calls`` (an assistant message or its list) or Responses API
``function_call`` items, turns each into an IntentRequest, asks the gate, and splits them:
allowed calls to execute, and for every other call a tool-role message telling the model why,
with the reason codes. The adapter decides nothing: the verdict is the core's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gait.errors import GaitError, InvalidInput
from gait.gate.engine import Gate, GateOutcome
from gait.gate.sdk import build_intent

TargetsFn = Callable[[str, dict[str, Any]], Sequence[Mapping[str, Any]]]


@dataclass
class ToolCall:
    """One call, in either API's shape."""

    call_id: str
    name: str
    arguments: Any
    api: str  # "chat" or "responses"
    raw: Mapping[str, Any]


@dataclass
class GatedCalls:
    allowed: list[ToolCall] = field(default_factory=list)
    denied: list[ToolCall] = field(default_factory=list)
    outcomes: dict[str, GateOutcome | None] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)


def extract_calls(payload: Any) -> list[ToolCall]:
    """Tool calls from a Chat Completions response or message, a ``tool_calls`` list, or a
    Responses output; anything else is refused rather than read as "no calls"."""
    if isinstance(payload, Mapping) and isinstance(payload.get("choices"), list):
        payload = [
            call
            for choice in payload["choices"]
            if isinstance(choice, Mapping) and isinstance(choice.get("message"), Mapping)
            for call in (choice["message"].get("tool_calls") or [])
        ]
    elif isinstance(payload, Mapping):
        if payload.get("type") != "function_call" and not any(
            key in payload for key in ("tool_calls", "output", "function", "role")
        ):
            raise InvalidInput(
                "not an OpenAI tool-call payload: expected a response with choices, a message "
                "with tool_calls, a Responses output, or a tool call",
                code="E_ADAPTER_INPUT_INVALID",
            )
        if "tool_calls" in payload:
            payload = payload.get("tool_calls") or []
        elif "output" in payload and isinstance(payload["output"], list):
            payload = payload["output"]
        else:
            payload = [payload]
    calls = []
    for item in payload or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "function_call":
            calls.append(
                ToolCall(
                    str(item.get("call_id") or item.get("id") or ""),
                    str(item.get("name") or ""),
                    item.get("arguments"),
                    "responses",
                    item,
                )
            )
        elif isinstance(item.get("function"), Mapping):
            function = item["function"]
            calls.append(
                ToolCall(
                    str(item.get("id") or ""),
                    str(function.get("name") or ""),
                    function.get("arguments"),
                    "chat",
                    item,
                )
            )
    return calls


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return raw  # not an object: the core refuses it (fail closed)
    return {} if raw is None else raw


def denial_message(call: ToolCall, outcome: GateOutcome | None, error: str = "") -> dict:
    """The tool-role message that tells the model why its call did not run."""
    body: dict[str, Any] = {"status": "not_executed", "tool": call.name}
    if outcome is not None:
        body.update(
            verdict=outcome.verdict,
            reason_codes=outcome.reason_codes,
            violations=outcome.violations,
        )
        if outcome.trace is not None:
            body["trace_id"] = outcome.trace["trace_id"]
    else:
        body.update(verdict="error", reason_codes=["intent_invalid"], error=error)
    content = json.dumps(body, sort_keys=True)
    if call.api == "responses":
        return {"type": "function_call_output", "call_id": call.call_id, "output": content}
    return {"role": "tool", "tool_call_id": call.call_id, "content": content}


def gate_tool_calls(
    gate: Gate,
    payload: Any,
    *,
    context: Mapping[str, Any],
    targets: TargetsFn | None = None,
    provenance: Mapping[str, str] | None = None,
    approval_tokens: Mapping[str, Sequence[Any]] | None = None,
) -> GatedCalls:
    """Gate each tool call; allowed ones go to ``allowed``, the rest get a tool message.

    ``targets(name, args)`` declares what a call touches; ``provenance`` maps argument names to
    their source for every call; ``approval_tokens`` maps a call id to its tokens.
    """
    result = GatedCalls()
    for call in extract_calls(payload):
        args = _arguments(call.arguments)
        declared = list(targets(call.name, args)) if targets and isinstance(args, dict) else []
        prov = [
            {"arg_path": f"$.{k}", "source": v}
            for k, v in (provenance or {}).items()
            if isinstance(args, dict) and k in args
        ]
        intent = build_intent(call.name, {}, context=context, targets=declared, provenance=prov)
        intent["args"] = args
        tokens = (approval_tokens or {}).get(call.call_id, ())
        try:
            outcome = gate.decide(intent, approval_tokens=tokens)
        except GaitError as exc:
            result.outcomes[call.call_id] = None
            result.denied.append(call)
            result.messages.append(denial_message(call, None, exc.message))
            continue
        result.outcomes[call.call_id] = outcome
        if outcome.verdict == "allow":
            result.allowed.append(call)
        else:
            result.denied.append(call)
            result.messages.append(denial_message(call, outcome))
    return result
