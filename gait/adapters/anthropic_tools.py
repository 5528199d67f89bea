"""Reference adapter: gate Anthropic ``tool_use`` blocks before they run.

Reads what the ``anthropic`` SDK gives you, as SDK objects or plain data: a ``Message``, its
``content`` list, one block, a message param (``{"role": "assistant", "content": [...]}``) or a
list of messages. Every ``tool_use`` block (the client executes it) becomes an IntentRequest; the
gate decides and the calls are split: ``allowed`` to execute, and for every other call a
``tool_result`` block with ``is_error: true`` telling the model why. Anthropic wants all the
results of one turn in one user message: ``user_message(gated)`` builds it.

Blocks the client does not execute (text, thinking, and the platform's own
``server_tool_use`` / ``mcp_tool_use`` with their ``*_tool_result``) need no gate. A block of a
kind it does not know, or input it cannot read, is refused with ``E_ADAPTER_INPUT_INVALID``
naming the type or kind: never read as "no calls".
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
    plain,
    refuse,
)
from gait.gate.engine import Gate, GateOutcome

__all__ = [
    "GatedCalls",
    "ToolCall",
    "denial_block",
    "extract_calls",
    "gate_tool_use",
    "user_message",
]

PASSIVE_BLOCKS = frozenset(
    {
        "text",
        "thinking",
        "redacted_thinking",
        "image",
        "document",
        "search_result",
        "server_tool_use",
        "mcp_tool_use",
        "mcp_tool_result",
        "tool_result",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
    }
)


def extract_calls(payload: Any) -> list[ToolCall]:
    """Every ``tool_use`` block, in order; unreadable input raises ``E_ADAPTER_INPUT_INVALID``."""
    where = type(payload).__name__
    data = plain(payload, where)
    if isinstance(data, Mapping):
        if "content" in data and ("role" in data or data.get("type") == "message"):
            return _from_content(data["content"], f"{where}.content")
        if "type" in data:
            return _from_block(data, where)
        keys = ", ".join(sorted(map(str, data))[:6]) or "none"
        raise refuse(
            f"{where}: not an Anthropic message or content block (fields: {keys}); expected a "
            "Message, its content list, a tool_use block or a list of messages"
        )
    if isinstance(data, list):
        calls: list[ToolCall] = []
        for i, item in enumerate(data):
            at = f"{where}[{i}]"
            if isinstance(item, Mapping) and "role" in item and "content" in item:
                calls.extend(_from_content(item["content"], f"{at}.content"))
            else:
                calls.extend(_from_block(item, at))
        return calls
    raise refuse(
        f"not an Anthropic tool-use payload: a {where} "
        "(expected a Message, its content list, a tool_use block or a list of messages)"
    )


def _from_content(content: Any, where: str) -> list[ToolCall]:
    if isinstance(content, str) or content is None:
        return []  # text only: nothing to gate
    if not isinstance(content, list):
        raise refuse(f"{where}: content must be text or a list of blocks")
    return each(content, _from_block, where)


def _from_block(block: Any, where: str) -> list[ToolCall]:
    if not isinstance(block, Mapping):
        raise refuse(f"{where}: a content block must be an object, not {type(block).__name__}")
    kind = block.get("type")
    if kind == "tool_use":
        call_id, name, args = block.get("id"), block.get("name"), block.get("input", {})
        if not isinstance(call_id, str) or not call_id:
            raise refuse(f"{where}: tool_use block has no id")
        if not isinstance(name, str) or not name:
            raise refuse(f"{where}: tool_use block has no name")
        return [ToolCall(call_id, name, args, "anthropic", block, "tool_use")]
    if kind in PASSIVE_BLOCKS:
        return []
    raise refuse(
        f"{where}: unknown content block kind {kind!r}; gait cannot tell whether the client "
        "would execute it, so it refuses rather than let it through"
    )


def denial_block(call: ToolCall, outcome: GateOutcome | None, error: str = "") -> dict[str, Any]:
    """The ``tool_result`` block that tells the model why its call did not run."""
    return {
        "type": "tool_result",
        "tool_use_id": call.call_id,
        "is_error": True,
        "content": denial_body(call, outcome, error),
    }


def user_message(gated: GatedCalls, results: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One user message with the denials and the caller's own ``tool_result`` blocks."""
    return {"role": "user", "content": [*map(dict, results), *gated.messages]}


def gate_tool_use(
    gate: Gate,
    payload: Any,
    *,
    context: Mapping[str, Any],
    targets: TargetsFn | None = None,
    provenance: Mapping[str, str] | None = None,
    approval_tokens: Mapping[str, Sequence[Any]] | None = None,
) -> GatedCalls:
    """Gate each ``tool_use`` block (same arguments as the OpenAI adapter's
    ``gate_tool_calls``); ``messages`` holds the ``tool_result`` blocks of the denied calls."""
    return gate_calls(
        gate,
        extract_calls(payload),
        denial_block,
        context=context,
        targets=targets,
        provenance=provenance,
        approval_tokens=approval_tokens,
    )
