"""MCP logs: JSON-RPC 2.0 ``tools/call`` requests and their responses.

Accepted shapes: JSON Lines of JSON-RPC messages (what a stdio transport carries), a list of
them, or transcript entries wrapping one in ``message`` with a ``timestamp`` and, ideally, a
``direction`` (``client_to_server`` / ``server_to_client``; also ``from: client|server``).

JSON-RPC ids are per sender: the client numbers its requests and the server numbers its own
(elicitation, sampling, roots), so the same id can be pending both ways at once. A response is
paired with a request of the other direction only: with a logged direction, exactly; without
one, by the method (``tools/call`` only goes client to server; ``elicitation/create``,
``sampling/createMessage`` and ``roots/list`` only server to client), and, when an id is pending
both ways, by the shape of the result (a tool result has a ``content`` list; an elicitation answer
has ``action``). When that still cannot tell, the import is refused rather than attach the wrong
result. An id reused after its response starts a new call.

Other methods (initialize, tools/list, notifications, server requests) and their responses are
counted as skipped by method.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Call, Event, Output, Skip, fail, safe_id
from ._io import as_time, documents

CLIENT, SERVER = "client", "server"  # who sent a message
SERVER_METHODS = frozenset({"elicitation/create", "sampling/createMessage", "roots/list"})
EITHER_METHODS = frozenset({"ping"})
_DIRECTIONS = {
    "client_to_server": CLIENT,
    "client->server": CLIENT,
    "c2s": CLIENT,
    "to_server": CLIENT,
    "server_to_client": SERVER,
    "server->client": SERVER,
    "s2c": SERVER,
    "to_client": SERVER,
}
# Relative to whoever wrote the log: resolved from the first request whose sender is certain
# (a session starts with the client's initialize).
_RELATIVE = {
    "send": True,
    "sent": True,
    "outgoing": True,
    "out": True,
    "recv": False,
    "received": False,
    "receive": False,
    "incoming": False,
    "in": False,
}


class _State:
    def __init__(self) -> None:
        # pending[sender][id key] = (method, call id or "")
        self.pending: dict[str, dict[str, tuple[str, str]]] = {CLIENT: {}, SERVER: {}}
        self.used: dict[str, int] = {}
        self.writer: str | None = None  # who wrote a log with send/recv directions


def events(path: Path) -> Iterator[Event]:
    state = _State()
    for where, doc in documents(path):
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            at = where if len(items) == 1 and not isinstance(doc, list) else f"{where} [{i}]"
            yield from _from_item(item, at, state)


def _key(value: Any) -> str:
    return f"{type(value).__name__}:{value}"


def _sender(item: dict[str, Any], where: str, state: _State) -> str | None:
    direction = item.get("direction")
    if direction is not None:
        text = str(direction).lower()
        if text in _RELATIVE:
            if state.writer is None:
                return None
            other = SERVER if state.writer == CLIENT else CLIENT
            return state.writer if _RELATIVE[text] else other
        sender = _DIRECTIONS.get(text)
        if sender is None:
            raise fail(
                where,
                f"unknown direction {direction!r} "
                "(use client_to_server / server_to_client, or send / recv)",
            )
        return sender
    source = item.get("from") or item.get("source")
    if source is not None:
        if str(source).lower() not in (CLIENT, SERVER):
            raise fail(where, f"field from must be client or server, not {source!r}")
        return str(source).lower()
    return None


def _request_sender(method: str, logged: str | None) -> str | None:
    if logged is not None:
        return logged
    if method in SERVER_METHODS:
        return SERVER
    if method in EITHER_METHODS:
        return None
    return CLIENT


def _from_item(item: Any, where: str, state: _State) -> Iterator[Event]:
    if not isinstance(item, dict):
        raise fail(where, "expected a JSON-RPC message object")
    ts = as_time(item.get("timestamp") or item.get("ts"), where)
    message = item.get("message", item)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise fail(where, 'not a JSON-RPC 2.0 message (field jsonrpc must be "2.0")')
    logged = _sender(item, where, state) if message is not item else None
    if "method" in message:
        method = str(message["method"])
        relative = str(item.get("direction", "")).lower()
        if state.writer is None and relative in _RELATIVE and method not in EITHER_METHODS:
            first = SERVER if method in SERVER_METHODS else CLIENT
            other = SERVER if first == CLIENT else CLIENT
            state.writer = first if _RELATIVE[relative] else other
            logged = first
        if "id" not in message:
            yield Skip(method, where)  # a notification
            return
        sender = _request_sender(method, logged)
        if sender is None:
            yield Skip(method, where)  # a ping of unknown direction: its response is skipped too
            return
        key = _key(message["id"])
        if method != "tools/call" or sender != CLIENT:
            state.pending[sender][key] = (method, "")
            yield Skip(method, where)
            return
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("name"), str):
            raise fail(where, "tools/call has no field params.name")
        args = params.get("arguments", {})
        if not isinstance(args, dict):
            raise fail(where, "field params.arguments must be an object")
        count = state.used.get(key, 0) + 1
        state.used[key] = count
        call_id = safe_id(f"mcp_{message['id']}" + (f"_{count}" if count > 1 else ""))
        state.pending[CLIENT][key] = ("tools/call", call_id)
        yield Call(call_id, params["name"], args, where, ts)
        return
    if "id" in message and ("result" in message or "error" in message):
        requester = _requester(message, logged, state, where)
        if requester is None:
            yield Skip("response to an unlogged request", where)
            return
        method, call_id = state.pending[requester].pop(_key(message["id"]))
        if not call_id:
            yield Skip(f"{method} response", where)
            return
        if "error" in message:
            yield Output(call_id, message["error"], where, "error", ts)
            return
        result = message["result"]
        status = "error" if isinstance(result, dict) and result.get("isError") else "ok"
        yield Output(call_id, result, where, status, ts)
        return
    raise fail(where, "JSON-RPC message is neither a request, a notification nor a response")


def _requester(
    message: dict[str, Any], logged: str | None, state: _State, where: str
) -> str | None:
    """Whose request this response answers: the other side of its sender."""
    key = _key(message["id"])
    if logged is not None:
        requester = SERVER if logged == CLIENT else CLIENT
        return requester if key in state.pending[requester] else None
    candidates = [side for side in (CLIENT, SERVER) if key in state.pending[side]]
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    result = message.get("result")
    if isinstance(result, dict):
        fits = [side for side in candidates if _fits(state.pending[side][key][0], result)]
        if len(fits) == 1:
            return fits[0]
    client_method = state.pending[CLIENT][key][0]
    server_method = state.pending[SERVER][key][0]
    raise fail(
        where,
        f"response id {message['id']!r} could answer the client's {client_method} or the "
        f"server's {server_method}; log each message's direction (client_to_server / "
        "server_to_client) so gait can pair it",
    )


def _fits(method: str, result: dict[str, Any]) -> bool:
    if method == "tools/call":
        tool_shaped = isinstance(result.get("content"), list) or "structuredContent" in result
        return tool_shaped and "action" not in result
    if method == "elicitation/create":
        return "action" in result
    if method == "sampling/createMessage":
        return "model" in result and "role" in result
    if method == "roots/list":
        return "roots" in result
    return False
