"""OpenTelemetry logs: OTLP JSON spans following the GenAI semantic conventions.

A tool call is a span whose ``gen_ai.operation.name`` is ``execute_tool`` (or whose name starts
with ``execute_tool``), carrying ``gen_ai.tool.name``, ``gen_ai.tool.call.id`` and, when the
instrumentation records them, ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``.
Span status ``ERROR`` (code 2) or an ``error.type`` attribute makes the result an error.

Accepted shapes: JSON Lines of OTLP export requests (``{"resourceSpans": [...]}`` per line, the
collector's file exporter format), streamed, or one such document. Spans keep file order.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Call, Event, Output, fail, safe_id
from ._io import as_time, documents, maybe_json, parse_json_text

TOOL_OP = "execute_tool"


def events(path: Path) -> Iterator[Event]:
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
                    yield from _from_span(span, at)


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
        }
    return None


def _attributes(span: dict[str, Any], where: str) -> dict[str, Any]:
    raw = span.get("attributes") or []
    if not isinstance(raw, list):
        raise fail(where, "field attributes must be a list")
    return {a.get("key"): _value(a.get("value")) for a in raw if isinstance(a, dict)}


def _from_span(span: Any, where: str) -> Iterator[Event]:
    if not isinstance(span, dict):
        raise fail(where, "span must be an object")
    attrs = _attributes(span, where)
    name = str(span.get("name", ""))
    if attrs.get("gen_ai.operation.name") != TOOL_OP and not name.startswith(TOOL_OP):
        return
    tool_name = attrs.get("gen_ai.tool.name")
    if not isinstance(tool_name, str) or not tool_name:
        raise fail(where, "execute_tool span has no attribute gen_ai.tool.name")
    call_id = attrs.get("gen_ai.tool.call.id") or span.get("spanId")
    if not call_id:
        raise fail(where, "execute_tool span has no gen_ai.tool.call.id nor spanId")
    start = as_time(span.get("startTimeUnixNano"), f"{where} field startTimeUnixNano")
    end = as_time(span.get("endTimeUnixNano"), f"{where} field endTimeUnixNano") or start
    args = parse_json_text(
        attrs.get("gen_ai.tool.call.arguments", {}), f"{where} attribute gen_ai.tool.call.arguments"
    )
    call_id = safe_id(call_id)
    yield Call(call_id, tool_name, args, where, start)
    status = span.get("status") or {}
    code = status.get("code") if isinstance(status, dict) else None
    failed = code in (2, "STATUS_CODE_ERROR", "ERROR") or bool(attrs.get("error.type"))
    if "gen_ai.tool.call.result" in attrs:
        result = maybe_json(attrs["gen_ai.tool.call.result"])
    elif failed:
        result = {
            "error": (status.get("message") if isinstance(status, dict) else "")
            or str(attrs.get("error.type", "error"))
        }
    else:
        result = None
    yield Output(call_id, result, where, "error" if failed else "ok", end)
