"""OpenTelemetry logs: OTLP JSON spans following the GenAI semantic conventions.

Two places hold tool calls, and both are read:

- ``execute_tool`` spans (``gen_ai.operation.name``, or a name starting with ``execute_tool``)
  carrying ``gen_ai.tool.name``, ``gen_ai.tool.call.id`` and, when the instrumentation records
  them, ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``. Span status ``ERROR``
  (code 2) or an ``error.type`` attribute makes the result an error.
- model-call spans (``chat``...) with ``gen_ai.output.messages`` / ``gen_ai.input.messages``, as
  the official OpenAI instrumentation writes them: ``tool_call`` parts are calls (timed at the
  span's end, when the model returned them), ``tool_call_response`` parts their results (timed
  at the start of the span that sent them back); ``server_tool_call`` parts and their responses
  are recorded with kind ``server_tool_call``. A call seen in both places is taken from its
  ``execute_tool`` span; repeats in later turns are counted as duplicates.

Calls are ordered by start time, ties broken by span id, so parallel tool spans keep the order
in which they started, whatever order they ended and were exported in. Other spans are counted
as skipped by operation.

Accepted shapes: JSON Lines of OTLP export requests (``{"resourceSpans": [...]}`` per line, the
collector's file exporter format), or one such document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gait.canon import loads_strict
from gait.errors import InvalidInput

from . import CODE, Call, Event, Output, Skip, fail, safe_id
from ._io import as_time, documents, maybe_json, parse_json_text

TOOL_OP = "execute_tool"
MESSAGES = ("gen_ai.input.messages", "gen_ai.output.messages")


def events(path: Path) -> Iterator[Event]:
    found: list[tuple[tuple[Any, ...], list[Event]]] = []
    skips: list[Skip] = []
    for where, doc in documents(path):
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
            raise fail(where, "not an OTLP JSON export (no field resourceSpans)")
        for r, resource in enumerate(doc["resourceSpans"]):
            scopes = resource.get("scopeSpans") if isinstance(resource, dict) else None
            if not isinstance(scopes, list):
                raise fail(f"{where} resourceSpans[{r}]", "field scopeSpans must be a list")
            for s, scope in enumerate(scopes):
                spans = scope.get("spans") if isinstance(scope, dict) else None
                if not isinstance(spans, list):
                    raise fail(
                        f"{where} resourceSpans[{r}].scopeSpans[{s}]", "field spans must be a list"
                    )
                for n, span in enumerate(spans):
                    at = f"{where} resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                    _from_span(span, at, found, skips)
    yield from skips
    yield from _ordered(found)


def _ordered(found: list[tuple[tuple[Any, ...], list[Event]]]) -> Iterator[Event]:
    """Tool spans first claim their call ids; message parts fill in what no span recorded."""
    found.sort(key=lambda item: item[0])
    spans = {e.call_id for key, group in found if key[2] == 0 for e in group if isinstance(e, Call)}
    calls: set[str] = set()
    outputs: set[str] = set()
    for key, group in found:
        for event in group:
            if isinstance(event, Call):
                if event.call_id in calls or (key[2] == 1 and event.call_id in spans):
                    yield Skip("duplicate call", event.where)
                    continue
                calls.add(event.call_id)
            elif isinstance(event, Output):
                if event.call_id in outputs:
                    yield Skip("duplicate result", event.where)
                    continue
                outputs.add(event.call_id)
            yield event


def _value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return {
            kv.get("key"): _value(kv.get("value"))
            for kv in (value["kvlistValue"] or {}).get("values", [])
            if isinstance(kv, dict) and isinstance(kv.get("key"), str)  # keys are strings
        }
    return None


def _attributes(span: dict[str, Any], where: str) -> dict[str, Any]:
    raw = span.get("attributes") or []
    if not isinstance(raw, list):
        raise fail(where, "field attributes must be a list")
    bad = [a.get("key") for a in raw if isinstance(a, dict) and not isinstance(a.get("key"), str)]
    if bad:
        raise fail(where, f"attribute key {str(bad[0])[:40]} is not a string")
    return {a["key"]: _value(a.get("value")) for a in raw if isinstance(a, dict)}


def _nanos(span: dict[str, Any], field: str) -> int:
    try:
        return int(span.get(field) or 0)
    except (TypeError, ValueError):
        return 0


def _from_span(
    span: Any,
    where: str,
    found: list[tuple[tuple[Any, ...], list[Event]]],
    skips: list[Skip],
) -> None:
    if not isinstance(span, dict):
        raise fail(where, "span must be an object")
    attrs = _attributes(span, where)
    name = str(span.get("name", ""))
    span_id = str(span.get("spanId") or "")
    start_ns, end_ns = _nanos(span, "startTimeUnixNano"), _nanos(span, "endTimeUnixNano")
    start = as_time(span.get("startTimeUnixNano"), f"{where} field startTimeUnixNano")
    end = as_time(span.get("endTimeUnixNano"), f"{where} field endTimeUnixNano") or start
    operation = attrs.get("gen_ai.operation.name")
    if operation == TOOL_OP or name.startswith(TOOL_OP):
        found.append(((start_ns, span_id, 0), list(_tool_span(span, attrs, where, start, end))))
        return
    if any(key in attrs for key in MESSAGES):
        inputs = list(_messages(attrs, "gen_ai.input.messages", where, start))
        outputs = list(_messages(attrs, "gen_ai.output.messages", where, end))
        if inputs:
            found.append(((start_ns, span_id, 1), inputs))
        if outputs:
            found.append(((end_ns, span_id, 1), outputs))
        if not inputs and not outputs:
            skips.append(Skip(f"span {operation or name or 'unnamed'}", where))
        return
    skips.append(Skip(f"span {operation or 'without gen_ai.operation.name'}", where))


def _tool_span(
    span: dict[str, Any], attrs: dict[str, Any], where: str, start: str | None, end: str | None
) -> Iterator[Event]:
    tool_name = attrs.get("gen_ai.tool.name")
    if not isinstance(tool_name, str) or not tool_name:
        raise fail(where, "execute_tool span has no attribute gen_ai.tool.name")
    call_id = attrs.get("gen_ai.tool.call.id") or span.get("spanId")
    if not call_id:
        raise fail(where, "execute_tool span has no gen_ai.tool.call.id nor spanId")
    call_id = safe_id(call_id)
    raw = attrs.get("gen_ai.tool.call.arguments", {})
    kind = str(attrs.get("gen_ai.tool.type") or "function")
    try:
        args = parse_json_text(raw, f"{where} attribute gen_ai.tool.call.arguments")
        yield Call(call_id, tool_name, args, where, start, kind)
    except InvalidInput as exc:
        yield Call(call_id, tool_name, str(raw), where, start, kind, exc.message)
    status = span.get("status") or {}
    code = status.get("code") if isinstance(status, dict) else None
    failed = code in (2, "STATUS_CODE_ERROR", "ERROR") or bool(attrs.get("error.type"))
    if "gen_ai.tool.call.result" in attrs:
        result = maybe_json(attrs["gen_ai.tool.call.result"], where)
    elif failed:
        result = {
            "error": (status.get("message") if isinstance(status, dict) else "")
            or str(attrs.get("error.type", "error"))
        }
    else:
        result = None
    yield Output(call_id, result, where, "error" if failed else "ok", end)


def _messages(attrs: dict[str, Any], key: str, where: str, ts: str | None) -> Iterator[Event]:
    raw = attrs.get(key)
    if raw is None:
        return
    at = f"{where} attribute {key}"
    if isinstance(raw, str):
        try:  # strict: a duplicate key would hide a message part, NaN has no JSON form
            raw = loads_strict(raw, what=at, code=CODE)
        except InvalidInput as exc:
            raise fail(at, f"not JSON ({exc.message})") from exc
    if not isinstance(raw, list):
        raise fail(at, "must be a list of messages")
    for m, message in enumerate(raw):
        parts = message.get("parts") if isinstance(message, dict) else None
        if not isinstance(parts, list):
            raise fail(f"{at}[{m}]", "message has no parts list")
        for p, part in enumerate(parts):
            yield from _part(part, f"{at}[{m}].parts[{p}]", ts)


def _part(part: Any, where: str, ts: str | None) -> Iterator[Event]:
    if not isinstance(part, dict):
        raise fail(where, "message part must be an object")
    kind = part.get("type")
    if kind in ("tool_call", "server_tool_call"):
        name, call_id = part.get("name"), part.get("id")
        if not isinstance(name, str) or not name:
            raise fail(where, f"{kind} part has no name")
        if not call_id:
            raise fail(where, f"{kind} part has no id: gait cannot pair its result")
        raw = part.get("arguments" if kind == "tool_call" else "server_tool_call", {})
        call_kind = "function" if kind == "tool_call" else "server_tool_call"
        try:
            args = parse_json_text(raw, f"{where} arguments")
        except InvalidInput as exc:
            yield Call(safe_id(call_id), name, str(raw), where, ts, call_kind, exc.message)
            return
        if not isinstance(args, dict):
            args = {"value": args}
        yield Call(safe_id(call_id), name, args, where, ts, call_kind)
        return
    if kind in ("tool_call_response", "server_tool_call_response"):
        call_id = part.get("id")
        if not call_id:
            raise fail(where, f"{kind} part has no id: gait cannot pair it with its call")
        field = "response" if kind == "tool_call_response" else "server_tool_call_response"
        yield Output(safe_id(call_id), maybe_json(part.get(field), where), where, "ok", ts)
        return
    # text, reasoning, blobs, files, uris: content, not calls
