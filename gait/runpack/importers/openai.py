"""OpenAI logs: Chat Completions and the Responses API, whole or streamed.

Accepted shapes, one per JSON line or as one document (a list is read item by item):

- a request (``messages``, or ``input`` as a list or as plain text) or a response
  (``choices``, or a Responses ``output``); ``{"request": ..., "response": ...}`` pairs;
- per-request logs of a multi-turn run, where each request repeats the earlier turns (repeated
  calls and results are counted as ``duplicate``, see ``gait.runpack.importers``);
- a bare message or item;
- streamed output: Chat ``chat.completion.chunk`` objects and Responses ``response.*`` events,
  assembled into calls (a call still open when the stream ends is recorded as unreadable).

Calls: Chat ``tool_calls`` (``function`` and ``custom``), Responses ``function_call``,
``custom_tool_call``, client-run ``computer_call`` / ``local_shell_call`` / ``shell_call`` /
``apply_patch_call``, and hosted ones the platform ran (``mcp_call``, ``web_search_call``,
``file_search_call``, ``code_interpreter_call``, ``image_generation_call``), each with its kind.
Arguments that are not valid JSON (``finish_reason=length`` cuts them off) make an unreadable
call, recorded with an error result instead of aborting. Text messages, reasoning and listings
are counted as skipped; an item of a kind gait does not know is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput

from . import Call, Event, Output, Skip, fail, safe_id
from ._io import as_time, documents, maybe_json, parse_json_text

# Hosted tools: item kind -> (tool name, fields that are the call's arguments, result fields)
HOSTED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "web_search_call": ("web_search", ("action",), ("results", "status")),
    "file_search_call": ("file_search", ("queries",), ("results", "status")),
    "code_interpreter_call": ("code_interpreter", ("code", "container_id"), ("outputs", "status")),
    "image_generation_call": ("image_generation", (), ("result", "status")),
}
CLIENT_CALLS = {
    "computer_call": ("computer", "action"),
    "local_shell_call": ("local_shell", "action"),
    "shell_call": ("shell", "action"),
    "apply_patch_call": ("apply_patch", "operation"),
}
OUTPUTS = (
    "function_call_output",
    "custom_tool_call_output",
    "computer_call_output",
    "local_shell_call_output",
    "shell_call_output",
    "apply_patch_call_output",
)
PASSIVE = frozenset(
    {
        "message",
        "reasoning",
        "compaction",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "tool_search_call",
        "tool_search_output",
        "additional_tools",
        "program",
        "program_output",
        "configuration_update",
        "item_reference",
        "input_text",
        "output_text",
    }
)


class _Stream:
    """Partial calls of streamed output, keyed by where they sit in the stream."""

    def __init__(self) -> None:
        self.chat: dict[tuple[str, int, int], dict[str, Any]] = {}
        self.items: dict[tuple[str, int], dict[str, Any]] = {}


def events(path: Path) -> Iterator[Event]:
    stream = _Stream()
    for where, doc in documents(path):
        yield from _from_doc(doc, where, stream)
    yield from _flush(stream)


def _from_doc(doc: Any, where: str, stream: _Stream) -> Iterator[Event]:
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _from_doc_item(item, f"{where} [{i}]", None, stream)
        return
    if not isinstance(doc, dict):
        raise fail(where, "expected an object or a list of messages/items")
    yield from _from_doc_item(doc, where, None, stream)


def _from_doc_item(doc: Any, where: str, ts: str | None, stream: _Stream) -> Iterator[Event]:
    if not isinstance(doc, dict):
        raise fail(where, "expected a message or item object")
    ts = as_time(doc.get("created") or doc.get("created_at") or doc.get("timestamp"), where) or ts
    if "request" in doc or "response" in doc:
        for key in ("request", "response"):
            if doc.get(key) is not None:
                yield from _from_doc_item(doc[key], f"{where} {key}", ts, stream)
        return
    if doc.get("object") == "chat.completion.chunk":
        yield from _chunk(doc, where, ts, stream)
        return
    kind = doc.get("type")
    if isinstance(kind, str) and kind.startswith("response.") and "role" not in doc:
        yield from _event(doc, where, ts, stream)
        return
    if "choices" in doc:
        choices = doc["choices"]
        if not isinstance(choices, list):
            raise fail(where, "field choices must be a list")
        for i, choice in enumerate(choices):
            if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
                raise fail(f"{where} choices[{i}]", "choice has no message")
            truncated = choice.get("finish_reason") == "length"
            yield from _from_item(choice["message"], f"{where} choices[{i}].message", ts, truncated)
        return
    # A request or a response holds lists; an item (which has a type) may have an "output" too.
    container = "type" not in doc or doc.get("object") == "response"
    lists = [k for k in ("messages", "input", "output") if k in doc] if container else []
    if lists:
        for key in lists:
            value = doc[key]
            if isinstance(value, str):
                yield Skip(f"{key} text", f"{where} {key}")
                continue
            if not isinstance(value, list):
                raise fail(where, f"field {key} must be a list or text")
            truncated = key == "output" and doc.get("status") == "incomplete"
            for i, item in enumerate(value):
                yield from _from_item(item, f"{where} {key}[{i}]", ts, truncated)
        return
    yield from _from_item(doc, where, ts)


def _call(
    call_id: Any, name: Any, raw_args: Any, where: str, ts: str | None, kind: str, truncated: bool
) -> Call:
    if not call_id:
        raise fail(where, f"{kind} has no call id")
    if not isinstance(name, str) or not name:
        raise fail(where, f"{kind} has no name")
    try:
        args = parse_json_text(raw_args, f"{where} field arguments")
    except InvalidInput as exc:
        why = "arguments cut off (the model hit its token limit)" if truncated else exc.message
        return Call(safe_id(call_id), name, str(raw_args), where, ts, kind, why)
    return Call(safe_id(call_id), name, args, where, ts, kind)


def _from_item(item: Any, where: str, ts: str | None, truncated: bool = False) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise fail(where, "expected a message or item object")
    ts = as_time(item.get("created_at") or item.get("timestamp"), where) or ts
    kind = item.get("type")
    if kind == "function_call":
        call_id = item.get("call_id") or item.get("id")
        cut = truncated or item.get("status") == "incomplete"
        yield _call(call_id, item.get("name"), item.get("arguments"), where, ts, "function", cut)
        return
    if kind == "custom_tool_call":
        call_id = safe_id(item.get("call_id") or item.get("id") or "")
        if not item.get("call_id") and not item.get("id"):
            raise fail(where, "custom_tool_call has no call_id")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise fail(where, "custom_tool_call has no name")
        yield Call(call_id, item["name"], {"input": item.get("input", "")}, where, ts, kind)
        return
    if kind in CLIENT_CALLS:
        name, field = CLIENT_CALLS[kind]
        call_id = item.get("call_id") or item.get("id")
        if not call_id:
            raise fail(where, f"{kind} has no call_id")
        args = item.get(field) if isinstance(item.get(field), dict) else {}
        if kind == "computer_call" and item.get("actions") is not None:
            args = {"actions": item["actions"]}
        yield Call(safe_id(call_id), name, args, where, ts, kind)
        return
    if kind in OUTPUTS:
        call_id = item.get("call_id") or (item.get("id") if kind.startswith("local_") else None)
        if not call_id:
            raise fail(where, f"{kind} has no field call_id")
        failed = item.get("status") in ("failed", "incomplete")
        yield Output(
            safe_id(call_id),
            maybe_json(item.get("output"), where),
            where,
            "error" if failed else "ok",
            ts,
        )
        return
    if kind == "mcp_call":
        call_id = item.get("id")
        label = item.get("server_label")
        call = _call(call_id, item.get("name"), item.get("arguments"), where, ts, kind, truncated)
        if isinstance(label, str) and label:
            call.kind = f"mcp_call:{label}"
        yield call
        if item.get("error"):
            yield Output(call.call_id, {"error": item["error"]}, where, "error", ts)
        elif item.get("output") is not None or item.get("status") == "completed":
            yield Output(call.call_id, maybe_json(item.get("output"), where), where, "ok", ts)
        return
    if kind in HOSTED:
        name, arg_fields, result_fields = HOSTED[kind]
        call_id = item.get("id")
        if not call_id:
            raise fail(where, f"{kind} has no field id")
        args = {k: item[k] for k in arg_fields if item.get(k) is not None}
        yield Call(safe_id(call_id), name, args, where, ts, kind)
        if item.get("status") in ("completed", "failed", "incomplete"):
            result = {k: item[k] for k in result_fields if item.get(k) is not None}
            status = "ok" if item.get("status") == "completed" else "error"
            yield Output(safe_id(call_id), result, where, status, ts)
        return
    role = item.get("role")
    if role == "assistant" and kind in (None, "message") and "tool_calls" in item:
        yield from _assistant(item, where, ts, truncated)
        return
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not call_id:
            raise fail(where, "tool message has no field tool_call_id")
        yield Output(safe_id(call_id), _content(item.get("content"), where), where, "ok", ts)
        return
    if role in ("system", "user", "developer", "assistant") and kind in (None, "message"):
        yield Skip(f"{role} message", where)
        return
    if kind in PASSIVE:
        yield Skip(str(kind), where)
        return
    if role is None and kind is None:
        raise fail(where, "not an OpenAI message or item (no role or type field)")
    raise fail(where, f"unknown OpenAI item kind {kind or role!r}: gait cannot tell what it holds")


def _assistant(
    item: dict[str, Any], where: str, ts: str | None, truncated: bool
) -> Iterator[Event]:
    calls = item.get("tool_calls") or []
    if not isinstance(calls, list):
        raise fail(where, "field tool_calls must be a list")
    if not calls:
        yield Skip("assistant message", where)
    for i, call in enumerate(calls):
        at = f"{where} tool_calls[{i}]"
        if not isinstance(call, dict):
            raise fail(at, "tool call must be an object")
        if call.get("type") == "custom" and isinstance(call.get("custom"), dict):
            custom = call["custom"]
            if not call.get("id"):
                raise fail(at, "tool call has no field id")
            if not isinstance(custom.get("name"), str) or not custom["name"]:
                raise fail(at, "custom tool call has no field custom.name")
            args = {"input": custom.get("input", "")}
            yield Call(safe_id(call["id"]), custom["name"], args, at, ts, "custom")
            continue
        function = call.get("function")
        if not isinstance(function, dict):
            raise fail(at, f"unknown tool call type {call.get('type')!r} (no field function)")
        if not call.get("id"):
            raise fail(at, "tool call has no field id")
        yield _call(
            call["id"],
            function.get("name"),
            function.get("arguments"),
            at,
            ts,
            "function",
            truncated,
        )


def _content(content: Any, where: str) -> Any:
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    ):
        return maybe_json("".join(str(p.get("text", "")) for p in content), where)
    return maybe_json(content, where)


# --- streams -----------------------------------------------------------------------------------


def _chunk(doc: dict[str, Any], where: str, ts: str | None, stream: _Stream) -> Iterator[Event]:
    """A Chat Completions stream chunk: tool-call deltas grow until their choice finishes."""
    stream_id = str(doc.get("id", ""))
    choices = doc.get("choices") or []
    if not isinstance(choices, list):
        raise fail(where, "field choices must be a list")
    for choice in choices:
        if not isinstance(choice, dict):
            raise fail(where, "choice must be an object")
        index = int(choice.get("index") or 0)
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            key = (stream_id, index, int(call.get("index") or 0))
            part = stream.chat.setdefault(
                key,
                {
                    "id": "",
                    "name": "",
                    "arguments": "",
                    "type": "function",
                    "where": where,
                    "ts": ts,
                },
            )
            part["id"] = part["id"] or call.get("id") or ""
            if call.get("type"):
                part["type"] = call["type"]
            function = call.get("function") or call.get("custom") or {}
            part["name"] += function.get("name") or ""
            part["arguments"] += function.get("arguments") or function.get("input") or ""
        finish = choice.get("finish_reason")
        if finish:
            for key in sorted(k for k in stream.chat if k[:2] == (stream_id, index)):
                yield _chat_call(stream.chat.pop(key), finish == "length")
    yield Skip("chat.completion.chunk", where)


def _chat_call(part: dict[str, Any], truncated: bool, open_at_end: bool = False) -> Call:
    where = part["where"]
    if part["type"] == "custom":
        return Call(
            safe_id(part["id"]),
            part["name"],
            {"input": part["arguments"]},
            where,
            part["ts"],
            "custom",
        )
    call = _call(
        part["id"], part["name"], part["arguments"], where, part["ts"], "function", truncated
    )
    if open_at_end and not call.error:
        call.error = "the stream ended before this call was finished"
        call.args = part["arguments"]
    return call


def _event(doc: dict[str, Any], where: str, ts: str | None, stream: _Stream) -> Iterator[Event]:
    """A Responses stream event: whole items arrive in ``response.output_item.done``."""
    kind = doc["type"]
    index = doc.get("output_index")
    if kind == "response.output_item.added" and isinstance(doc.get("item"), dict):
        stream.items[("", int(index or 0))] = {
            "item": dict(doc["item"]),
            "where": where,
            "ts": ts,
            "arguments": "",
        }
    elif kind in (
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.mcp_call_arguments.delta",
    ):
        part = stream.items.get(("", int(index or 0)))
        if part is not None:
            part["arguments"] += str(doc.get("delta") or "")
    elif kind == "response.output_item.done" and isinstance(doc.get("item"), dict):
        stream.items.pop(("", int(index or 0)), None)
        yield from _from_item(doc["item"], f"{where} item", ts)
        return
    elif kind in ("response.completed", "response.incomplete", "response.failed"):
        response = doc.get("response") or {}
        stream.items.clear()
        truncated = kind == "response.incomplete"
        for i, item in enumerate(response.get("output") or []):
            yield from _from_item(item, f"{where} response.output[{i}]", ts, truncated)
        return
    yield Skip(kind, where)


def _flush(stream: _Stream) -> Iterator[Event]:
    """Calls a stream left open: recorded as unreadable, never dropped."""
    for key in sorted(stream.chat):
        yield _chat_call(stream.chat[key], False, open_at_end=True)
    for item_key in sorted(stream.items):
        part = stream.items[item_key]
        item = part["item"]
        if item.get("type") not in ("function_call", "custom_tool_call", "mcp_call"):
            continue
        field = "input" if item["type"] == "custom_tool_call" else "arguments"
        text = item.get(field) or part["arguments"]
        call_id = item.get("call_id") or item.get("id")
        if item["type"] == "custom_tool_call":
            yield Call(
                safe_id(call_id or ""),
                str(item.get("name") or "custom"),
                {"input": text},
                part["where"],
                part["ts"],
                "custom_tool_call",
                "the stream ended before this call was finished",
            )
            continue
        call = _call(call_id, item.get("name"), text, part["where"], part["ts"], item["type"], True)
        if not call.error:
            call.error = "the stream ended before this call was finished"
            call.args = str(text)
        yield call
