"""OpenAI logs: Chat Completions ``tool_calls`` with ``tool`` role results, and Responses API
``function_call`` / ``function_call_output`` items.

Accepted shapes: a JSON document holding ``messages``, ``input`` or ``output`` lists (a request
or a response), a bare list of messages or items, a Chat Completions response (``choices``), or
JSON Lines with one message, item, request or response per line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Call, Event, Output, fail, safe_id
from ._io import as_time, documents, maybe_json, parse_json_text


def events(path: Path) -> Iterator[Event]:
    found = False
    for where, doc in documents(path):
        for event in _from_doc(doc, where):
            found = True
            yield event
    if not found:
        return


def _from_doc(doc: Any, where: str) -> Iterator[Event]:
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _from_item(item, f"{where} [{i}]", None)
        return
    if not isinstance(doc, dict):
        raise fail(where, "expected an object or a list of messages/items")
    ts = as_time(doc.get("created") or doc.get("created_at") or doc.get("timestamp"), where)
    lists = [k for k in ("messages", "input", "output") if isinstance(doc.get(k), list)]
    if "choices" in doc:
        choices = doc["choices"]
        if not isinstance(choices, list):
            raise fail(where, "field choices must be a list")
        for i, choice in enumerate(choices):
            message = choice.get("message") if isinstance(choice, dict) else None
            if message is not None:
                yield from _from_item(message, f"{where} choices[{i}].message", ts)
        return
    if lists:
        for key in lists:
            for i, item in enumerate(doc[key]):
                yield from _from_item(item, f"{where} {key}[{i}]", ts)
        return
    yield from _from_item(doc, where, ts)


def _from_item(item: Any, where: str, ts: str | None) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise fail(where, "expected a message or item object")
    ts = as_time(item.get("created_at") or item.get("timestamp"), where) or ts
    kind = item.get("type")
    if kind == "function_call":
        call_id = item.get("call_id") or item.get("id")
        name = item.get("name")
        if not call_id:
            raise fail(where, "function_call has no field call_id")
        if not isinstance(name, str) or not name:
            raise fail(where, "function_call has no field name")
        args = parse_json_text(item.get("arguments"), f"{where} field arguments")
        yield Call(safe_id(call_id), name, args, where, ts)
        return
    if kind == "function_call_output":
        call_id = item.get("call_id")
        if not call_id:
            raise fail(where, "function_call_output has no field call_id")
        status = "error" if item.get("status") in ("failed", "incomplete") else "ok"
        yield Output(safe_id(call_id), maybe_json(item.get("output")), where, status, ts)
        return
    role = item.get("role")
    if role == "assistant":
        calls = item.get("tool_calls") or []
        if not isinstance(calls, list):
            raise fail(where, "field tool_calls must be a list")
        for i, call in enumerate(calls):
            at = f"{where} tool_calls[{i}]"
            if not isinstance(call, dict):
                raise fail(at, "tool call must be an object")
            function = call.get("function")
            if not isinstance(function, dict) or not function.get("name"):
                raise fail(at, "tool call has no field function.name")
            if not call.get("id"):
                raise fail(at, "tool call has no field id")
            args = parse_json_text(function.get("arguments"), f"{at} field function.arguments")
            yield Call(safe_id(call["id"]), str(function["name"]), args, at, ts)
        return
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not call_id:
            raise fail(where, "tool message has no field tool_call_id")
        yield Output(safe_id(call_id), _content(item.get("content")), where, "ok", ts)
        return
    if role in ("system", "user", "developer") or kind in ("message", "reasoning"):
        return
    if role is None and kind is None:
        raise fail(where, "not an OpenAI message or item (no role or type field)")


def _content(content: Any) -> Any:
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" for p in content
    ):
        return maybe_json("".join(str(p.get("text", "")) for p in content))
    return maybe_json(content)
