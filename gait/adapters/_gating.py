"""What the OpenAI and Anthropic gating adapters share: the call model and the gate loop.

The rule both adapters keep: every tool call the model asked for ends in ``allowed`` or in
``denied``; input an adapter cannot read is refused with ``E_ADAPTER_INPUT_INVALID`` naming its
type or kind, never read as "no calls" (a loop that runs "whatever was not denied" would then run
a blocked call).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gait.errors import GaitError, InvalidInput
from gait.gate.engine import Gate, GateOutcome
from gait.gate.sdk import build_intent
from gait.values import to_json_value

CODE = "E_ADAPTER_INPUT_INVALID"
TargetsFn = Callable[[str, dict[str, Any]], Sequence[Mapping[str, Any]]]


@dataclass
class ToolCall:
    """One call, in any supported API's shape (``raw`` is the call as plain JSON data)."""

    call_id: str
    name: str
    arguments: Any
    api: str  # "chat", "responses" or "anthropic"
    raw: Mapping[str, Any]
    kind: str = "function"  # the API's own kind: function, custom, custom_tool_call, tool_use...


@dataclass
class GatedCalls:
    allowed: list[ToolCall] = field(default_factory=list)
    denied: list[ToolCall] = field(default_factory=list)
    outcomes: dict[str, GateOutcome | None] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)


def refuse(message: str) -> InvalidInput:
    return InvalidInput(
        message,
        code=CODE,
        hint="pass the SDK response, its message, its tool-call list, or their model_dump()",
    )


def each(
    items: list[Any], read: Callable[[Any, str], list[ToolCall]], where: str
) -> list[ToolCall]:
    """The calls of every item of a list, in order, each read with its position in ``where``."""
    calls: list[ToolCall] = []
    for i, item in enumerate(items):
        calls.extend(read(item, f"{where}[{i}]"))
    return calls


def plain(payload: Any, where: str = "payload") -> Any:
    """SDK objects, dataclasses, attrs, mappings and sequences as plain JSON data (strict)."""
    return to_json_value(payload, strict=True, code=CODE, where=where)


def parse_arguments(raw: Any, where: str = "tool-call arguments") -> Any:
    """The arguments as the model sent them: JSON text read strictly, or already a value.

    Text that is not JSON at all stays text, and the core refuses the call (fail closed). JSON
    that other readers take differently (a duplicate key: which value does the tool get? NaN,
    which canonical JSON cannot hold) raises ``E_ADAPTER_INPUT_INVALID``: the gate decides on
    exactly the arguments the tool would run with, or not at all.
    """
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        parsed = strict_json_text(raw, where)
        return raw if parsed is NOT_JSON else parsed
    return {} if raw is None else raw


NOT_JSON: Any = object()


def strict_json_text(text: str, where: str) -> Any:
    """``text`` parsed by the project's strict reader; ``NOT_JSON`` when it is no JSON at all;
    ``E_ADAPTER_INPUT_INVALID`` when it is JSON only a lenient reader accepts."""
    from gait.canon import loads_strict

    try:
        return loads_strict(text, what=where, code=CODE)
    except InvalidInput as exc:
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return NOT_JSON
        raise InvalidInput(
            exc.message,
            code=CODE,
            hint="the call was not run: its arguments must be JSON without duplicate keys, "
            "NaN or Infinity",
        ) from exc


def denial_body(call: ToolCall, outcome: GateOutcome | None, error: str = "") -> str:
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
    return json.dumps(body, sort_keys=True)


def gate_calls(
    gate: Gate,
    calls: Sequence[ToolCall],
    message_for: Callable[[ToolCall, GateOutcome | None, str], dict[str, Any] | None],
    *,
    context: Mapping[str, Any],
    targets: TargetsFn | None,
    provenance: Mapping[str, str] | None,
    approval_tokens: Mapping[str, Sequence[Any]] | None,
) -> GatedCalls:
    result = GatedCalls()
    for call in calls:
        args = call.arguments
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
            message = message_for(call, None, exc.message)
            if message is not None:
                result.messages.append(message)
            continue
        result.outcomes[call.call_id] = outcome
        if outcome.verdict == "allow":
            result.allowed.append(call)
        else:
            result.denied.append(call)
            message = message_for(call, outcome, "")
            if message is not None:
                result.messages.append(message)
    return result
