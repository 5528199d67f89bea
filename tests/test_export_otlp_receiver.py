"""Export honours OTLP conventions and reaches a real OTLP/HTTP receiver (issue 12, item 7).

The receiver is a small ``http.server`` on loopback that decodes what arrives with the
``opentelemetry-proto`` messages, like a collector would; ``gait export`` runs as a user runs
it, with the standard ``OTEL_*`` environment variables.
"""

from __future__ import annotations

import http.server
import json
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
trace_service = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

import gait  # noqa: E402


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).got.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = 200 if self.path == "/v1/traces" else 404
        self.send_response(status)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
        if status == 200:
            self.wfile.write(trace_service.ExportTraceServiceResponse().SerializeToString())

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"got": got})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", got
    finally:
        server.shutdown()
        server.server_close()


def _attrs(kvs: Any) -> dict[str, Any]:
    out = {}
    for kv in kvs:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def _raw_runpack(path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with gait.record(run_id="run_otlp", out=path, capture_mode="raw") as run:
            first = run.intent("refund", {"order": "o-1"}, ts="2026-03-01T12:00:01Z")
            run.result(first, {"status": "approved"})
            second = run.intent("notify", {"to": "ops"}, ts="2026-03-01T12:00:02Z")
            run.result(second, {"error": "down"}, status="error")
    return path


def test_spans_of_raw_runpack_reach_receiver_with_genai_attributes(
    receiver: tuple[str, list[dict[str, Any]]], run_gait: Any, tmp_path: Path
) -> None:
    url, got = receiver
    pack = _raw_runpack(tmp_path / "run.zip")
    env = {
        "OTEL_SERVICE_NAME": "checkout-agent",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=sec%20team,authorization=Bearer t0k",
    }
    proc = run_gait("export", str(pack), "--to", f"otel:{url}", "--json", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(got) == 1
    request = got[0]
    assert request["path"] == "/v1/traces"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-tenant"] == "sec team" and headers["authorization"] == "Bearer t0k"
    message = trace_service.ExportTraceServiceRequest()
    message.ParseFromString(request["body"])
    [resource_spans] = message.resource_spans
    assert _attrs(resource_spans.resource.attributes)["service.name"] == "checkout-agent"
    spans = [s for scope in resource_spans.scope_spans for s in scope.spans]
    by_name = {s.name: s for s in spans}
    refund = _attrs(by_name["execute_tool refund"].attributes)
    assert refund["gen_ai.operation.name"] == "execute_tool"
    assert refund["gen_ai.tool.type"] == "function"
    assert json.loads(refund["gen_ai.tool.call.arguments"]) == {"order": "o-1"}
    assert json.loads(refund["gen_ai.tool.call.result"]) == {"status": "approved"}
    # 2026-03-01T12:00:01Z, the run's own time
    assert by_name["execute_tool refund"].start_time_unix_nano == 1772366401 * 10**9
    notify = by_name["execute_tool notify"]
    assert notify.status.code == 2  # ERROR
    root = _attrs(by_name["gait.run run_otlp"].attributes)
    assert root["gait.time_source"] == "run"


def test_run_without_timestamps_takes_export_time_and_says_so(tmp_path: Path) -> None:
    from gait.export.base import spans_from_runpack
    from gait.runpack.importers import import_log
    from gait.runpack.reader import load_runpack

    log = tmp_path / "untimed.jsonl"
    log.write_text(
        json.dumps({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "t", "arguments": "{}"}}]}) + "\n"
    )  # fmt: skip
    recorder = import_log("openai", log, out=tmp_path / "u.zip")
    spans = spans_from_runpack(load_runpack(recorder.written.path), now="2026-11-30T10:00:00Z")
    assert {s.start for s in spans} == {"2026-11-30T10:00:00Z"}
    assert all(s.attributes["gait.time_source"] == "export" for s in spans)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://c:4318", "http://c:4318/v1/traces"),
        ("http://c:4318/", "http://c:4318/v1/traces"),
        ("https://gw.example/otlp", "https://gw.example/otlp/v1/traces"),
        ("http://c:4318/v1/traces", "http://c:4318/v1/traces"),
    ],
)
def test_endpoint_path_appended_to_base_url(base: str, expected: str) -> None:
    from gait.export.otel import traces_endpoint

    assert traces_endpoint(base) == expected


def test_protocol_grpc_and_unsupported(run_gait: Any, tmp_path: Path) -> None:
    pack = _raw_runpack(tmp_path / "run.zip")
    proc = run_gait(
        "export", str(pack), "--to", "otel", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    )
    assert proc.returncode == 6 and "E_EXPORT_OTEL_PROTOCOL" in proc.stderr
    assert "Traceback" not in proc.stderr
    grpc = run_gait(
        "export", str(pack), "--to", "otel", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    )
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        assert grpc.returncode == 7 and "otel-grpc" in grpc.stderr
    else:  # installed: nothing listens on localhost:4317, so the export fails cleanly
        assert grpc.returncode == 1 and "E_EXPORT_FAILED" in grpc.stderr
