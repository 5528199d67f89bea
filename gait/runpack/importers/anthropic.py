"""Anthropic Messages logs: ``tool_use`` blocks in assistant turns, ``tool_result`` blocks in
user turns (``is_error`` marks a failed call).

Accepted shapes: a request or response document with ``messages`` (a response's own
``content`` is one assistant turn), a bare list of messages, or JSON Lines of messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Call, Event, Output, fail, safe_id
from ._io import as_time, documents, maybe_json


def events(path: Path) -> Iterator[Event]:
    for where, doc in documents(path):
        yield from _from_doc(doc, where)


def _from_doc(doc: Any, where: str) -> Iterator[Event]:
    if isinstance(doc, list):
        for i, message in enumerate(doc):
            yield from _from_message(message, f"{where} [{i}]", None)
        return
    if not isinstance(doc, dict):
        raise fail(where, "expected an object or a list of messages")
    ts = as_time(doc.get("created_at") or doc.get("timestamp"), where)
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
        return
    if not isinstance(content, list):
        raise fail(where, "field content must be a string or a list of blocks")
    for i, block in enumerate(content):
        at = f"{where} content[{i}]"
        if not isinstance(block, dict):
            raise fail(at, "content block must be an object")
        kind = block.get("type")
        if kind in ("tool_use", "server_tool_use"):
            if not block.get("id"):
                raise fail(at, "tool_use block has no field id")
            if not isinstance(block.get("name"), str) or not block["name"]:
                raise fail(at, "tool_use block has no field name")
            args = block.get("input", {})
            if not isinstance(args, dict):
                raise fail(at, "field input must be an object")
            yield Call(safe_id(block["id"]), block["name"], args, at, ts)
        elif kind == "tool_result":
            if not block.get("tool_use_id"):
                raise fail(at, "tool_result block has no field tool_use_id")
            status = "error" if block.get("is_error") else "ok"
            yield Output(
                safe_id(block["tool_use_id"]), _content(block.get("content")), at, status, ts
            )


def _content(content: Any) -> Any:
    if isinstance(content, list) and all(
        isinstance(b, dict) and b.get("type") == "text" for b in content
    ):
        return maybe_json("".join(str(b.get("text", "")) for b in content))
    return maybe_json(content)
