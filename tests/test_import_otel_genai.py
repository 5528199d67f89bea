"""OTEL import reads GenAI traces as instrumentations write them (issue 12, item 6).

Spans come from the real opentelemetry-sdk through ``opentelemetry-util-genai`` (the library
the official OpenAI instrumentation writes its spans with), are collected by the in-memory
exporter and encoded as OTLP JSON by the OTLP exporter's own encoder: the collector file
exporter's format.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace")
genai = pytest.importorskip("opentelemetry.util.genai.handler")
pytest.importorskip("opentelemetry.exporter.otlp.proto.common.trace_encoder")


@pytest.fixture
def otlp_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util.genai.types import (
        InputMessage,
        OutputMessage,
        TextPart,
        ToolCallRequestPart,
        ToolCallResponsePart,
    )

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = genai.TelemetryHandler(tracer_provider=provider)
    user = InputMessage(role="user", parts=[TextPart(content="tidy the repo")])
    calls = [
        ToolCallRequestPart(arguments={"path": "/repo/a"}, name="read_file", id="call_1"),
        ToolCallRequestPart(arguments={"q": "todo"}, name="search", id="call_2"),
    ]
    with handler.inference("openai", request_model="gpt-5") as chat:
        chat.input_messages = [user]
        chat.output_messages = [
            OutputMessage(role="assistant", parts=list(calls), finish_reason="tool_call")
        ]
    # Parallel tools: read_file starts first and ends last (export order is end order).
    slow = handler.tool("read_file")
    slow.tool_call_id, slow.arguments = "call_1", {"path": "/repo/a"}
    fast = handler.tool("search")
    fast.tool_call_id, fast.arguments = "call_2", {"q": "todo"}
    fast.tool_result = ["a.py:3"]
    fast.stop()
    slow.tool_result = "contents of a"
    slow.stop()
    email = ToolCallRequestPart(arguments={"to": "ops"}, name="send_email", id="call_3")
    with handler.inference("openai", request_model="gpt-5") as chat:
        chat.input_messages = [
            user,
            InputMessage(role="assistant", parts=list(calls)),
            InputMessage(role="tool", parts=[ToolCallResponsePart("contents of a", "call_1")]),
            InputMessage(role="tool", parts=[ToolCallResponsePart(["a.py:3"], "call_2")]),
        ]
        chat.output_messages = [
            OutputMessage(role="assistant", parts=[email], finish_reason="tool_call")
        ]
    with handler.inference("openai", request_model="gpt-5") as chat:  # no tool span for call_3
        chat.input_messages = [
            InputMessage(role="assistant", parts=[email]),
            InputMessage(role="tool", parts=[ToolCallResponsePart("sent", "call_3")]),
        ]
        chat.output_messages = [
            OutputMessage(role="assistant", parts=[TextPart(content="done")], finish_reason="stop")
        ]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans][1:3] == ["execute_tool search", "execute_tool read_file"]
    log = tmp_path / "traces.jsonl"
    log.write_text(MessageToJson(encode_spans(spans), indent=None) + "\n")
    return log


def test_genai_messages_and_tool_spans_in_start_order(otlp_log: Path, run_gait: Any) -> None:
    out = otlp_log.with_name("otel.zip")
    proc = run_gait(
        "run", "record", "--from", "otel", "--input", str(otlp_log), "--out", str(out),
        "--capture-mode", "raw", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)["import"]
    assert (report["calls"], report["results"]) == (3, 3)
    assert report["skipped"]["duplicate call"] >= 2
    with zipfile.ZipFile(out) as archive:
        intents = [json.loads(x) for x in archive.read("intents.jsonl").splitlines()]
        results = {
            r["intent_id"]: r for r in map(json.loads, archive.read("results.jsonl").splitlines())
        }
        timeline = json.loads(archive.read("run.json"))["timeline"]
    assert [i["tool_name"] for i in intents] == ["read_file", "search", "send_email"]
    assert [e["ref"] for e in timeline if e["event"] == "tool_call"] == [
        "call_1",
        "call_2",
        "call_3",
    ]
    assert intents[0]["args"] == {"path": "/repo/a"}
    assert results["call_3"]["result"] == {"value": "sent"}
    assert results["call_2"]["result"] == {"value": ["a.py:3"]}


def test_chat_spans_without_tool_calls_report_what_was_skipped(
    tmp_path: Path, run_gait: Any
) -> None:
    log = tmp_path / "empty.jsonl"
    span = {"name": "db query", "spanId": "0011", "startTimeUnixNano": "1", "attributes": []}
    log.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
    proc = run_gait("run", "record", "--from", "otel", "--input", str(log))
    assert proc.returncode == 6
    assert "no tool calls found" in proc.stderr and "skipped" in proc.stderr
