"""MCP logs: JSON-RPC 2.0 ``tools/call`` requests and their responses.

Accepted shapes: JSON Lines of JSON-RPC messages (what a stdio transport carries), a list of
them, or transcript entries wrapping one in ``message`` with a ``timestamp``. Other methods
(initialize, tools/list, notifications) are skipped; a response pairs with its request by id,
and an id reused after its response starts a new call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Call, Event, Output, fail, safe_id
from ._io import as_time, documents


def events(path: Path) -> Iterator[Event]:
    pending: dict[str, str] = {}
    used: dict[str, int] = {}
    for where, doc in documents(path):
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            at = where if len(items) == 1 and not isinstance(doc, list) else f"{where} [{i}]"
            yield from _from_item(item, at, pending, used)


def _key(value: Any) -> str:
    return f"{type(value).__name__}:{value}"


def _from_item(
    item: Any, where: str, pending: dict[str, str], used: dict[str, int]
) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise fail(where, "expected a JSON-RPC message object")
    ts = as_time(item.get("timestamp") or item.get("ts"), where)
    message = item.get("message", item)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise fail(where, 'not a JSON-RPC 2.0 message (field jsonrpc must be "2.0")')
    if "method" in message:
        if message["method"] != "tools/call" or "id" not in message:
            return
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            raise fail(where, "tools/call has no field params.name")
        args = params.get("arguments", {})
        if not isinstance(args, dict):
            raise fail(where, "field params.arguments must be an object")
        key = _key(message["id"])
        count = used.get(key, 0) + 1
        used[key] = count
        call_id = safe_id(f"mcp_{message['id']}" + (f"_{count}" if count > 1 else ""))
        pending[key] = call_id
        yield Call(call_id, params["name"], args, where, ts)
        return
    if "id" in message and ("result" in message or "error" in message):
        call_id = pending.pop(_key(message["id"]), None)
        if call_id is None:
            return  # a response to a method gait does not record
        if "error" in message:
            yield Output(call_id, message["error"], where, "error", ts)
            return
        result = message["result"]
        status = "error" if isinstance(result, dict) and result.get("isError") else "ok"
        yield Output(call_id, result, where, status, ts)
