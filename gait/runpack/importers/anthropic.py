"""Anthropic Messages logs: ``tool_use`` blocks in assistant turns, ``tool_result`` blocks in
user turns (``is_error`` marks a failed call), whole or streamed.

Accepted shapes, one per JSON line or as one document: a request (``messages``) or a response
(a ``message`` whose ``content`` is one assistant turn), ``{"request": ..., "response": ...}``
pairs, per-request logs that repeat earlier turns (repeats are counted as ``duplicate``), a
bare list of messages, and streamed events (``message_start``, ``content_block_*``...), assembled
into calls. A tool call whose input was cut off (``max_tokens`` mid-stream) is recorded as
unreadable with an error result, never dropped.

Calls: ``tool_use`` (client tools), and with their kind the platform's ``server_tool_use``
(web search, web fetch, code execution...) and ``mcp_tool_use``; results: ``tool_result``,
``mcp_tool_result`` and the server tools' ``*_tool_result`` blocks (an ``*_error`` content marks
a failure). Text, thinking and media blocks are counted as skipped; a block of a kind gait does
not know is refused, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput

from . import Call, Event, Output, Skip, fail, safe_id
from ._io import as_time, documents, maybe_json, parse_json_text

CALL_BLOCKS = ("tool_use", "server_tool_use", "mcp_tool_use")
SERVER_RESULTS = frozenset(
    {
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
    }
)
PASSIVE = frozenset(
    {
        "text",
        "thinking",
        "redacted_thinking",
        "image",
        "document",
        "search_result",
        "container_upload",
    }
)


class _Stream:
    def __init__(self) -> None:
        self.ts: str | None = None
        self.blocks: dict[int, dict[str, Any]] = {}


def events(path: Path) -> Iterator[Event]:
    stream = _Stream()
    for where, doc in documents(path):
        yield from _from_doc(doc, where, None, stream)
    yield from _flush(stream)


def _from_doc(doc: Any, where: str, ts: str | None, stream: _Stream) -> Iterator[Event]:
    if isinstance(doc, list):
        for i, message in enumerate(doc):
            yield from _from_message(message, f"{where} [{i}]", ts)
        return
    if not isinstance(doc, dict):
        raise fail(where, "expected an object or a list of messages")
    ts = as_time(doc.get("created_at") or doc.get("timestamp"), where) or ts
    if "request" in doc or "response" in doc:
        for key in ("request", "response"):
            if doc.get(key) is not None:
                yield from _from_doc(doc[key], f"{where} {key}", ts, stream)
        return
    kind = doc.get("type")
    if isinstance(kind, str) and (
        kind.startswith("content_block_")
        or kind in ("message_start", "message_delta", "message_stop", "ping", "error")
    ):
        yield from _event(doc, where, ts, stream)
        return
    if isinstance(doc.get("messages"), list):
        for i, message in enumerate(doc["messages"]):
            yield from _from_message(message, f"{where} messages[{i}]", ts)
        if doc.get("type") == "message" or "content" in doc:
            yield from _from_message(doc, where, ts)
        return
    yield from _from_message(doc, where, ts)


def _from_message(message: Any, where: str, ts: str | None) -> Iterator[Event]:
    if not isinstance(message, dict):
        raise fail(where, "expected a message object")
    if "role" not in message:
        raise fail(where, "not an Anthropic message (no field role)")
    ts = as_time(message.get("created_at") or message.get("timestamp"), where) or ts
    content = message.get("content")
    if isinstance(content, str) or content is None:
        yield Skip(f"{message['role']} text", where)
        return
    if not isinstance(content, list):
        raise fail(where, "field content must be a string or a list of blocks")
    for i, block in enumerate(content):
        yield from _from_block(block, f"{where} content[{i}]", ts)


def _from_block(block: Any, at: str, ts: str | None, truncated: bool = False) -> Iterator[Event]:
    if not isinstance(block, dict):
        raise fail(at, "content block must be an object")
    kind = block.get("type")
    if kind in CALL_BLOCKS:
        if not block.get("id"):
            raise fail(at, f"{kind} block has no field id")
        if not isinstance(block.get("name"), str) or not block["name"]:
            raise fail(at, f"{kind} block has no field name")
        args = block.get("input", {})
        if not isinstance(args, dict):
            raise fail(at, "field input must be an object")
        call_kind = "function" if kind == "tool_use" else str(kind)
        if kind == "mcp_tool_use" and block.get("server_name"):
            call_kind = f"mcp_tool_use:{block['server_name']}"
        yield Call(safe_id(block["id"]), block["name"], args, at, ts, call_kind)
        return
    if kind in ("tool_result", "mcp_tool_result"):
        if not block.get("tool_use_id"):
            raise fail(at, f"{kind} block has no field tool_use_id")
        status = "error" if block.get("is_error") else "ok"
        yield Output(
            safe_id(block["tool_use_id"]), _content(block.get("content"), at), at, status, ts
        )
        return
    if kind in SERVER_RESULTS:
        if not block.get("tool_use_id"):
            raise fail(at, f"{kind} block has no field tool_use_id")
        content = block.get("content")
        inner = content.get("type") if isinstance(content, dict) else None
        status = "error" if isinstance(inner, str) and inner.endswith("_error") else "ok"
        yield Output(safe_id(block["tool_use_id"]), content, at, status, ts)
        return
    if kind in PASSIVE:
        yield Skip(str(kind), at)
        return
    raise fail(at, f"unknown content block kind {kind!r}: gait cannot tell what it holds")


def _content(content: Any, where: str) -> Any:
    if isinstance(content, list) and all(
        isinstance(b, dict) and b.get("type") == "text" for b in content
    ):
        return maybe_json("".join(str(b.get("text", "")) for b in content), where)
    return maybe_json(content, where)


# --- streams -----------------------------------------------------------------------------------


def _event(doc: dict[str, Any], where: str, ts: str | None, stream: _Stream) -> Iterator[Event]:
    kind = doc["type"]
    if kind == "message_start":
        yield from _flush(stream)  # a new message: whatever the last one left open
        stream.ts = ts
        message = doc.get("message") or {}
        for i, block in enumerate(message.get("content") or []):
            yield from _from_block(block, f"{where} message.content[{i}]", ts)
    elif kind == "content_block_start":
        block = doc.get("content_block")
        if not isinstance(block, dict):
            raise fail(where, "content_block_start has no content_block")
        stream.blocks[int(doc.get("index") or 0)] = {
            "block": dict(block),
            "json": "",
            "where": where,
            "ts": ts or stream.ts,
        }
    elif kind == "content_block_delta":
        part = stream.blocks.get(int(doc.get("index") or 0))
        delta = doc.get("delta") or {}
        if part is not None and delta.get("type") == "input_json_delta":
            part["json"] += str(delta.get("partial_json") or "")
    elif kind == "content_block_stop":
        part = stream.blocks.pop(int(doc.get("index") or 0), None)
        if part is not None:
            yield from _finish(part, cut=False)
    yield Skip(f"stream {kind}", where)


def _finish(part: dict[str, Any], cut: bool) -> Iterator[Event]:
    block = part["block"]
    if block.get("type") in CALL_BLOCKS:
        text = part["json"]
        try:
            block["input"] = parse_json_text(text, f"{part['where']} input") if text else {}
            error = "the stream ended before this call was finished" if cut else ""
        except InvalidInput:
            error = "input cut off (the model hit its token limit)"
        if error:
            for call in _from_block({**block, "input": {}}, part["where"], part["ts"]):
                if isinstance(call, Call):
                    call.args, call.error = text, error
                yield call
            return
    yield from _from_block(block, part["where"], part["ts"])


def _flush(stream: _Stream) -> Iterator[Event]:
    for index in sorted(stream.blocks):
        yield from _finish(stream.blocks[index], cut=True)
    stream.blocks.clear()
