"""Reference adapter: gate OpenAI tool calls before they run.

Reads what the ``openai`` SDK gives you, as SDK objects or as plain data (their
``model_dump()``, or dicts from a log): a Chat Completions ``ChatCompletion``, one of its
messages, a ``tool_calls`` list or one call (``function`` and GPT-5 ``custom`` calls); a Responses
``Response``, its ``output`` list or one item. Each call the client would execute becomes an
IntentRequest; the gate decides and the calls are split: ``allowed`` to execute, and for every
other call a message telling the model why, with the reason codes. The adapter decides nothing:
the verdict is the core's.

Responses items the client executes and this adapter gates: ``function_call``,
``custom_tool_call`` (args ``{"input": text}``), ``mcp_approval_request`` (the client approves a
hosted MCP call: args are the MCP call's), ``computer_call`` (tool ``computer``),
``local_shell_call`` (``local_shell``), ``shell_call`` (``shell``), ``apply_patch_call``
(``apply_patch``); their args are the action or operation. Items the platform already ran or
that are not calls (messages, reasoning, hosted ``mcp_call``, web/file search, outputs...) need no
gate. An item of a kind it does not know, or input it cannot read, is refused with
``E_ADAPTER_INPUT_INVALID`` naming the type or kind: never read as "no calls".

Denial messages: a ``tool`` role message (Chat), a ``function_call_output`` /
``custom_tool_call_output`` / ``local_shell_call_output`` / ``apply_patch_call_output`` item, or
an ``mcp_approval_response`` with ``approve: false``. ``computer_call`` and ``shell_call`` have
no text output shape: they are in ``denied`` without a message; end the turn or answer them
yourself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gait.adapters._gating import (
    GatedCalls,
    TargetsFn,
    ToolCall,
    denial_body,
    each,
    gate_calls,
    parse_arguments,
    plain,
    refuse,
)
from gait.gate.engine import Gate, GateOutcome

__all__ = ["GatedCalls", "ToolCall", "denial_message", "extract_calls", "gate_tool_calls"]

# Responses item kinds the client executes -> the tool name gated (None: the item's own name)
CLIENT_KINDS: dict[str, str | None] = {
    "function_call": None,
    "custom_tool_call": None,
    "mcp_approval_request": None,
    "computer_call": "computer",
    "local_shell_call": "local_shell",
    "shell_call": "shell",
    "apply_patch_call": "apply_patch",
}
# Items that are not calls for the client to run: answers, reasoning, calls the platform ran,
# and outputs (an input list repeats them).
PASSIVE_KINDS = frozenset(
    {
        "message",
        "reasoning",
        "compaction",
        "file_search_call",
        "web_search_call",
        "image_generation_call",
        "code_interpreter_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
        "additional_tools",
        "program",
        "program_output",
        "configuration_update",
        "item_reference",
        "function_call_output",
        "custom_tool_call_output",
        "computer_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
    }
)


def extract_calls(payload: Any) -> list[ToolCall]:
    """Every call the client would execute, in order; unreadable input raises
    ``E_ADAPTER_INPUT_INVALID``."""
    data = plain(payload, type(payload).__name__)
    if isinstance(data, Mapping):
        return _from_mapping(data, type(payload).__name__)
    if isinstance(data, list):
        return each(data, _from_item, type(payload).__name__)
    raise refuse(
        f"not an OpenAI tool-call payload: a {type(payload).__name__} "
        "(expected a ChatCompletion, a message, a tool_calls list, a Response or its output)"
    )


def _from_mapping(data: Mapping[str, Any], where: str) -> list[ToolCall]:
    if "choices" in data:
        choices = data["choices"]
        if not isinstance(choices, list):
            raise refuse(f"{where}: field choices must be a list")
        calls: list[ToolCall] = []
        for i, choice in enumerate(choices):
            message = choice.get("message") if isinstance(choice, Mapping) else None
            if not isinstance(message, Mapping):
                raise refuse(
                    f"{where}.choices[{i}]: no message (a streamed chunk? pass the "
                    "assembled ChatCompletion)"
                )
            calls.extend(_from_message(message, f"{where}.choices[{i}].message"))
        return calls
    if "tool_calls" in data or data.get("role") in ("assistant", "tool", "user", "system"):
        return _from_message(data, where)
    if data.get("object") == "response" or ("output" in data and "type" not in data):
        output = data.get("output")
        if not isinstance(output, list):
            raise refuse(f"{where}: field output must be a list")
        return each(output, _from_item, f"{where}.output")
    if "type" in data or "function" in data:
        return _from_item(data, where)
    keys = ", ".join(sorted(map(str, data))[:6]) or "none"
    raise refuse(
        f"{where}: not an OpenAI tool-call payload (fields: {keys}); expected a response with "
        "choices, a message with tool_calls, a Responses output, or a tool call"
    )


def _from_message(message: Mapping[str, Any], where: str) -> list[ToolCall]:
    raw_calls = message.get("tool_calls")
    if raw_calls is None:
        if message.get("function_call"):
            raise refuse(
                f"{where}: legacy function_call messages are not supported; use tools / tool_calls"
            )
        return []  # a reply without tool calls: there is nothing to gate
    if not isinstance(raw_calls, list):
        raise refuse(f"{where}: field tool_calls must be a list")
    return each(raw_calls, _from_item, f"{where}.tool_calls")


def _from_item(item: Any, where: str) -> list[ToolCall]:
    if not isinstance(item, Mapping):
        raise refuse(f"{where}: a tool call must be an object, not {type(item).__name__}")
    kind = item.get("type")
    if isinstance(item.get("function"), Mapping) and kind in (None, "function"):
        function = item["function"]
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise refuse(f"{where}: tool call has no function.name")
        args = parse_arguments(function.get("arguments"), f"{where}.function.arguments")
        return [ToolCall(str(item.get("id") or ""), name, args, "chat", item, "function")]
    if kind == "custom" and isinstance(item.get("custom"), Mapping):
        custom = item["custom"]
        name = custom.get("name")
        if not isinstance(name, str) or not name:
            raise refuse(f"{where}: custom tool call has no custom.name")
        args = {"input": custom.get("input", "")}
        return [ToolCall(str(item.get("id") or ""), name, args, "chat", item, "custom")]
    if kind in CLIENT_KINDS:
        return [_responses_call(item, str(kind), where)]
    if kind in PASSIVE_KINDS:
        return []
    if "role" in item and kind in (None, "message"):
        return []  # an input message (user, system, developer) carries no call
    raise refuse(
        f"{where}: unknown tool-call kind {kind!r}; gait cannot tell whether the client would "
        "execute it, so it refuses rather than let it through"
    )


def _responses_call(item: Mapping[str, Any], kind: str, where: str) -> ToolCall:
    fixed = CLIENT_KINDS[kind]
    name = fixed or item.get("name")
    if not isinstance(name, str) or not name:
        raise refuse(f"{where}: {kind} has no field name")
    if kind == "mcp_approval_request":
        call_id = item.get("id")
    else:
        call_id = item.get("call_id") or item.get("id")
    if not call_id:
        raise refuse(f"{where}: {kind} has no call id")
    if kind in ("function_call", "mcp_approval_request"):
        args: Any = parse_arguments(item.get("arguments"), f"{where}.arguments")
    elif kind == "custom_tool_call":
        args = {"input": item.get("input", "")}
    elif kind == "apply_patch_call":
        args = dict(item.get("operation") or {})
    elif kind == "computer_call":
        args = {"action": item.get("action"), "actions": item.get("actions")}
        args = {k: v for k, v in args.items() if v is not None}
    else:
        args = dict(item.get("action") or {})
    return ToolCall(str(call_id), name, args, "responses", item, kind)


def denial_message(
    call: ToolCall, outcome: GateOutcome | None, error: str = ""
) -> dict[str, Any] | None:
    """The message that tells the model why its call did not run (None: no such shape)."""
    content = denial_body(call, outcome, error)
    if call.api == "chat":
        return {"role": "tool", "tool_call_id": call.call_id, "content": content}
    if call.kind == "function_call":
        return {"type": "function_call_output", "call_id": call.call_id, "output": content}
    if call.kind == "custom_tool_call":
        return {"type": "custom_tool_call_output", "call_id": call.call_id, "output": content}
    if call.kind == "mcp_approval_request":
        return {
            "type": "mcp_approval_response",
            "approval_request_id": call.call_id,
            "approve": False,
            "reason": content,
        }
    if call.kind == "local_shell_call":
        item_id = str(call.raw.get("id") or call.call_id)
        return {"type": "local_shell_call_output", "id": item_id, "output": content}
    if call.kind == "apply_patch_call":
        return {
            "type": "apply_patch_call_output",
            "call_id": call.call_id,
            "status": "failed",
            "output": content,
        }
    return None


def gate_tool_calls(
    gate: Gate,
    payload: Any,
    *,
    context: Mapping[str, Any],
    targets: TargetsFn | None = None,
    provenance: Mapping[str, str] | None = None,
    approval_tokens: Mapping[str, Sequence[Any]] | None = None,
) -> GatedCalls:
    """Gate each tool call; allowed ones go to ``allowed``, the rest to ``denied`` (with a
    message where the API has one).

    ``targets(name, args)`` declares what a call touches; ``provenance`` maps argument names to
    their source for every call; ``approval_tokens`` maps a call id to its tokens.
    """
    return gate_calls(
        gate,
        extract_calls(payload),
        denial_message,
        context=context,
        targets=targets,
        provenance=provenance,
        approval_tokens=approval_tokens,
    )
