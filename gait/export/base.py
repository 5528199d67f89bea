"""The exporter interface and the span model every exporter consumes.

Local artifacts are authoritative (PRD NFR-8): an exporter only copies what a trace record or a
runpack already says, after it is written, and an exporter failure is reported as a warning; it
never changes a verdict or removes an artifact. ``BackgroundExporter`` keeps a slow endpoint off
the path of a decision.

Spans follow the OpenTelemetry GenAI semantic conventions for tool execution
(``execute_tool {gen_ai.tool.name}``, ``gen_ai.operation.name``, ``gen_ai.tool.name``,
``gen_ai.tool.call.id``) plus ``gait.*`` attributes. Their ids and times come from the artifact,
never from the clock, so exporting the same artifact twice gives the same spans.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from gait import timefmt
from gait.errors import GaitError, IOFailure

AttributeValue = str | int | float | bool | list[str]
BLOCKING_VERDICTS = ("block", "require_approval")


class ExportFailed(IOFailure):
    """An exporter could not deliver; the local artifact is untouched."""

    default_code = "E_EXPORT_FAILED"


class ExportUnavailable(ExportFailed):
    """The endpoint did not take the spans (down, refused, timed out): worth a retry."""

    category = "network_transient"
    retryable = True


@dataclass(frozen=True)
class ToolSpan:
    name: str
    trace_key: str
    span_key: str
    start: str
    end: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    parent_key: str = ""
    error_type: str = ""

    @property
    def trace_id(self) -> int:
        """128-bit id derived from the run or trace id: stable across exports."""
        return int(hashlib.sha256(f"trace:{self.trace_key}".encode()).hexdigest()[:32], 16) or 1

    @property
    def span_id(self) -> int:
        return int(hashlib.sha256(f"span:{self.span_key}".encode()).hexdigest()[:16], 16) or 1

    @property
    def start_ns(self) -> int:
        return unix_nanos(self.start)

    @property
    def end_ns(self) -> int:
        return max(unix_nanos(self.end), self.start_ns)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "trace_id": f"{self.trace_id:032x}",
            "span_id": f"{self.span_id:016x}",
            "start_time": self.start,
            "end_time": self.end,
            "start_time_unix_nano": self.start_ns,
            "end_time_unix_nano": self.end_ns,
            "status": "error" if self.error_type else "unset",
            "attributes": dict(self.attributes),
        }
        if self.parent_key:
            doc["parent_span_id"] = f"{ToolSpan('', '', self.parent_key, '', '').span_id:016x}"
        return doc


@runtime_checkable
class Exporter(Protocol):
    """Delivers spans somewhere; raises ExportFailed when it cannot."""

    name: str

    def export(self, spans: Sequence[ToolSpan]) -> None: ...

    def close(self) -> None: ...


def unix_nanos(text: str) -> int:
    moment, nanos = timefmt.parse(text)
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def _add_ms(text: str, millis: float) -> str:
    moment, nanos = timefmt.parse(text)
    total = int(moment.timestamp()) * 1_000_000_000 + nanos + int(round(millis * 1_000_000))
    from datetime import UTC, datetime

    seconds, rest = divmod(total, 1_000_000_000)
    return timefmt.format_utc(datetime.fromtimestamp(seconds, UTC), rest)


def _put(attrs: dict[str, AttributeValue], key: str, value: Any) -> None:
    """Only non-empty values: OpenTelemetry has no null, and empty says nothing."""
    if value is None or value == "" or value == [] or isinstance(value, Mapping):
        return
    if isinstance(value, (list, tuple)):
        attrs[key] = [str(v) for v in value]
    elif isinstance(value, (str, bool, int, float)):
        attrs[key] = value
    else:
        attrs[key] = str(value)


def spans_from_trace(
    record: Mapping[str, Any], result: Mapping[str, Any] | None = None
) -> list[ToolSpan]:
    """One ``execute_tool`` span for a gate decision.

    A trace record has no ``reason_codes`` (FORMATS.md 6.2): they come from the GateResult when
    the caller has it, and are left out otherwise rather than guessed.
    """
    tool = str(record.get("tool_name", ""))
    verdict = str(record.get("verdict", ""))
    attrs: dict[str, AttributeValue] = {"gen_ai.operation.name": "execute_tool"}
    _put(attrs, "gen_ai.tool.name", tool)
    _put(attrs, "gen_ai.tool.call.id", record.get("trace_id"))
    _put(attrs, "gait.verdict", verdict)
    _put(attrs, "gait.policy_digest", record.get("policy_digest"))
    reasons = (result or {}).get("reason_codes")
    if reasons is not None:
        attrs["gait.reason_codes"] = [str(r) for r in reasons]
    _put(attrs, "gait.violations", record.get("violations") or (result or {}).get("violations"))
    for key in (
        "trace_id",
        "intent_digest",
        "args_digest",
        "policy_id",
        "policy_version",
        "event_id",
        "run_id",
        "agent_id",
        "environment",
        "approval_token_ref",
    ):
        _put(attrs, f"gait.{key}", record.get(key))
    _put(attrs, "gait.matched_rule_ids", record.get("matched_rule_ids"))
    start = str(record.get("observed_at") or record.get("created_at") or timefmt.EPOCH_1980)
    if start == timefmt.ZERO_TIME:
        start = str(record.get("created_at") or timefmt.EPOCH_1980)
    latency = record.get("latency_ms")
    end = _add_ms(start, float(latency)) if isinstance(latency, (int, float)) else start
    error = f"gait.{verdict}" if verdict in BLOCKING_VERDICTS else ""
    if error:
        attrs["error.type"] = error
    trace_key = str(record.get("run_id") or record.get("trace_id") or "")
    span = ToolSpan(
        name=f"execute_tool {tool}",
        trace_key=trace_key,
        span_key=f"trace:{record.get('trace_id', '')}:{record.get('event_id', '')}",
        start=start,
        end=end,
        attributes=attrs,
        error_type=error,
    )
    return [span]


# gen_ai.tool.type (GenAI semantic conventions: function, extension, datastore) by the kind an
# importer recorded in env.import.call_kinds; anything not listed there is a function.
_TOOL_TYPES = {
    "file_search_call": "datastore",
    "mcp_call": "extension",
    "mcp_tool_use": "extension",
    "server_tool_use": "extension",
    "server_tool_call": "extension",
    "web_search_call": "extension",
    "code_interpreter_call": "extension",
    "image_generation_call": "extension",
}
UNTIMED = (timefmt.EPOCH_1980, timefmt.ZERO_TIME)


def _json_text(value: Any) -> str:
    from gait.canon import canonical_bytes

    return canonical_bytes(value).decode("utf-8")


def spans_from_runpack(runpack: Any, *, now: str | None = None) -> list[ToolSpan]:
    """A ``gait.run`` span with one ``execute_tool`` child per recorded intent, in order.

    Spans are timed from the run's own timestamps. A run that has none (an import of a log
    without times gets the 1980 placeholder) is timed at ``now`` (the export time), and every
    span says so in ``gait.time_source = "export"``, rather than land in 1980. Raw-capture
    runpacks also carry ``gen_ai.tool.call.arguments`` / ``gen_ai.tool.call.result`` (as
    stored, i.e. after redaction); reference capture has digests only.
    """
    run_id = str(runpack.run_id)
    timeline = list(runpack.run.get("timeline") or [])
    created = str(runpack.manifest.get("created_at") or timefmt.EPOCH_1980)
    times = [str(e.get("ts")) for e in timeline if e.get("ts")]
    untimed = created in UNTIMED and all(t in UNTIMED for t in times)
    if untimed:
        stamp = now or timefmt.now()
        timeline = [{**e, "ts": stamp} for e in timeline]
        created, times = stamp, [stamp for _ in times]
    run_start = next((str(e["ts"]) for e in timeline if e.get("event") == "start"), created)
    run_end = next(
        (str(e["ts"]) for e in reversed(timeline) if e.get("event") == "finish"),
        times[-1] if times else run_start,
    )
    env = runpack.run.get("env") or {}
    imported = env.get("import") if isinstance(env, Mapping) else None
    kinds = imported.get("call_kinds") if isinstance(imported, Mapping) else None
    kinds = kinds if isinstance(kinds, Mapping) else {}
    root_attrs: dict[str, AttributeValue] = {}
    _put(root_attrs, "gait.run_id", run_id)
    _put(root_attrs, "gait.manifest_digest", runpack.manifest.get("manifest_digest"))
    _put(root_attrs, "gait.capture_mode", runpack.capture_mode)
    _put(root_attrs, "gait.intent_count", len(runpack.intents))
    _put(root_attrs, "gait.source_format", env.get("source_format") if env else None)
    root_attrs["gait.time_source"] = "export" if untimed else "run"
    root_key = f"run:{run_id}"
    spans = [ToolSpan(f"gait.run {run_id}", run_id, root_key, run_start, run_end, root_attrs)]
    results = runpack.results_by_intent()
    for index, intent in enumerate(runpack.intents):
        intent_id = str(intent.get("intent_id", index))
        start, end = _step_window(timeline, intent_id, run_start)
        tool = str(intent.get("tool_name", ""))
        kind = str(kinds.get(intent_id) or "function")
        attrs: dict[str, AttributeValue] = {"gen_ai.operation.name": "execute_tool"}
        _put(attrs, "gen_ai.tool.name", tool)
        _put(attrs, "gen_ai.tool.call.id", intent_id)
        attrs["gen_ai.tool.type"] = _TOOL_TYPES.get(kind.split(":", 1)[0], "function")
        if kind != "function":
            attrs["gait.tool_kind"] = kind
        _put(attrs, "gait.run_id", run_id)
        _put(attrs, "gait.args_digest", intent.get("args_digest"))
        if intent.get("args") is not None:
            attrs["gen_ai.tool.call.arguments"] = _json_text(intent["args"])
        if untimed:
            attrs["gait.time_source"] = "export"
        result = results.get(intent_id)
        error = ""
        if result is None:
            error = "gait.result_missing"
        else:
            _put(attrs, "gait.result_digest", result.get("result_digest"))
            _put(attrs, "gait.result_status", result.get("status"))
            if result.get("result") is not None:
                attrs["gen_ai.tool.call.result"] = _json_text(result["result"])
            if result.get("status") == "error":
                error = "gait.tool_error"
        if error:
            attrs["error.type"] = error
        spans.append(
            ToolSpan(
                f"execute_tool {tool}",
                run_id,
                f"intent:{run_id}:{intent_id}",
                start,
                end,
                attrs,
                parent_key=root_key,
                error_type=error,
            )
        )
    return spans


def _step_window(
    timeline: list[Mapping[str, Any]], intent_id: str, default: str
) -> tuple[str, str]:
    for i, event in enumerate(timeline):
        if event.get("ref") == intent_id and event.get("ts"):
            later = [e.get("ts") for e in timeline[i + 1 :] if e.get("ts")]
            return str(event["ts"]), str(later[0] if later else event["ts"])
    return default, default


def publish(exporters: Sequence[Exporter], spans: Sequence[ToolSpan]) -> list[str]:
    """Hand spans to every exporter; failures come back as warnings, never as exceptions."""
    warnings = []
    for exporter in exporters:
        try:
            exporter.export(spans)
        except GaitError as exc:
            warnings.append(f"exporter {exporter.name}: {exc.code}: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - an exporter must never break the caller
            warnings.append(f"exporter {exporter.name}: {type(exc).__name__}: {exc}")
    return warnings


class BackgroundExporter:
    """Exports on a daemon thread from a bounded queue: a caller never waits on an endpoint.

    When the queue is full the batch is dropped and counted (the artifact on disk still has it);
    ``close`` waits up to ``timeout`` seconds for what is queued.
    """

    def __init__(self, inner: Exporter, *, max_batches: int = 1024) -> None:
        self.inner = inner
        self.name = f"background:{inner.name}"
        self.dropped = 0
        self.warnings: list[str] = []
        self._queue: queue.Queue[Sequence[ToolSpan] | None] = queue.Queue(max_batches)
        self._thread = threading.Thread(target=self._work, name="gait-export", daemon=True)
        self._thread.start()

    def export(self, spans: Sequence[ToolSpan]) -> None:
        try:
            self._queue.put_nowait(list(spans))
        except queue.Full:
            self.dropped += 1

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            self.warnings.extend(publish([self.inner], batch))

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
        try:
            self.inner.close()
        except Exception as exc:  # noqa: BLE001
            self.warnings.append(f"exporter {self.inner.name}: close failed: {exc}")
