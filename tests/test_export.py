"""Exporters: the span model, JSONL, OpenTelemetry (in-memory span exporter), and failures that
never touch the local artifact or the caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gait.export import base
from gait.export.base import BackgroundExporter, ExportFailed, ToolSpan, publish
from gait.export.jsonl import JsonlExporter
from gait.runpack.reader import load_runpack


@pytest.fixture
def signed_runpack(conformance_dir: Path):  # noqa: ANN201
    return load_runpack(conformance_dir / "reference/runpacks/runpack_run_signed.zip", verify=False)


@pytest.fixture
def trace(conformance_dir: Path) -> dict[str, Any]:
    return json.loads((conformance_dir / "reference/approval/trace_after.json").read_text())


@pytest.fixture
def gate_result(conformance_dir: Path) -> dict[str, Any]:
    return json.loads((conformance_dir / "reference/approval/gate_eval_after.json").read_text())


def test_runpack_spans(signed_runpack) -> None:  # noqa: ANN001
    spans = base.spans_from_runpack(signed_runpack)
    tools = [i["tool_name"] for i in signed_runpack.intents]
    assert [s.name for s in spans] == ["gait.run run_signed", *(f"execute_tool {t}" for t in tools)]
    assert spans[3].error_type == "gait.tool_error"
    root, first = spans[0], spans[1]
    assert root.start == "2026-03-01T12:00:00Z" and root.end == "2026-03-01T12:00:04.0001Z"
    assert first.attributes["gen_ai.operation.name"] == "execute_tool"
    assert first.attributes["gen_ai.tool.call.id"] == "intent_1"
    assert first.attributes["gait.result_status"] == "ok"
    assert (first.start, first.end) == ("2026-03-01T12:00:01.25Z", "2026-03-01T12:00:02.5Z")
    assert all(s.trace_id == root.trace_id for s in spans)
    assert len({s.span_id for s in spans}) == len(spans)
    assert base.spans_from_runpack(signed_runpack) == spans


def test_trace_span(trace: dict, gate_result: dict) -> None:
    [span] = base.spans_from_trace(trace, gate_result)
    attrs = span.attributes
    assert span.name == "execute_tool tool.write"
    assert attrs["gen_ai.tool.name"] == "tool.write"
    assert attrs["gen_ai.tool.call.id"] == trace["trace_id"]
    assert attrs["gait.verdict"] == "allow"
    assert attrs["gait.policy_digest"] == trace["policy_digest"]
    assert attrs["gait.reason_codes"] == ["approval_granted", "matched_rule_writes_need_approval"]
    assert span.start == trace["observed_at"] and span.end_ns > span.start_ns
    assert not span.error_type
    [bare] = base.spans_from_trace(trace)
    assert "gait.reason_codes" not in bare.attributes
    blocked = dict(trace, verdict="block")
    [span] = base.spans_from_trace(blocked, {"reason_codes": ["default_block"]})
    assert span.error_type == "gait.block" and span.attributes["error.type"] == "gait.block"


def test_jsonl_exporter_appends_identical_lines(tmp_path: Path, trace: dict) -> None:
    out = tmp_path / "sub" / "spans.jsonl"
    exporter = JsonlExporter(out)
    spans = base.spans_from_trace(trace)
    exporter.export(spans)
    exporter.export(spans)
    lines = out.read_bytes().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    doc = json.loads(lines[0])
    assert doc["name"] == "execute_tool tool.write" and doc["status"] == "unset"
    assert len(doc["trace_id"]) == 32 and len(doc["span_id"]) == 16


def test_exporter_failures_are_warnings_and_leave_the_artifact(
    tmp_path: Path, trace: dict, conformance_dir: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    broken = JsonlExporter(blocker / "spans.jsonl")
    with pytest.raises(ExportFailed) as caught:
        broken.export(base.spans_from_trace(trace))
    assert caught.value.code == "E_EXPORT_FAILED"

    class Exploding:
        name = "exploding"

        def export(self, spans: Sequence[ToolSpan]) -> None:
            raise RuntimeError("collector on fire")

        def close(self) -> None:
            pass

    good = JsonlExporter(tmp_path / "ok.jsonl")
    before = (conformance_dir / "reference/approval/trace_after.json").read_bytes()
    warnings = publish([broken, Exploding(), good], base.spans_from_trace(trace))
    assert len(warnings) == 2
    assert warnings[0].startswith("exporter jsonl: E_EXPORT_FAILED")
    assert "collector on fire" in warnings[1]
    assert (tmp_path / "ok.jsonl").exists()
    assert (conformance_dir / "reference/approval/trace_after.json").read_bytes() == before


def test_background_exporter_never_blocks_the_caller(trace: dict) -> None:
    release = threading.Event()

    class Slow:
        name = "slow"
        done = 0

        def export(self, spans: Sequence[ToolSpan]) -> None:
            release.wait(5)
            self.done += 1

        def close(self) -> None:
            pass

    slow = Slow()
    background = BackgroundExporter(slow, max_batches=2)
    spans = base.spans_from_trace(trace)
    started = time.perf_counter()
    for _ in range(10):
        background.export(spans)
    assert time.perf_counter() - started < 0.5
    assert background.dropped >= 7
    release.set()
    background.close(timeout=5)
    assert slow.done == 10 - background.dropped


def test_protocol() -> None:
    assert isinstance(JsonlExporter("x.jsonl"), base.Exporter)


# --- OpenTelemetry -------------------------------------------------------------------------


def _memory():  # noqa: ANN202
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    return InMemorySpanExporter()


def test_otel_runpack_spans(signed_runpack) -> None:  # noqa: ANN001
    memory = _memory()
    from opentelemetry.trace import SpanKind, StatusCode

    from gait.export.otel import OtelExporter

    exporter = OtelExporter(memory)
    exporter.export(base.spans_from_runpack(signed_runpack))
    spans = memory.get_finished_spans()
    assert [s.name for s in spans][0] == "gait.run run_signed"
    root = spans[0]
    assert root.parent is None
    assert root.resource.attributes["service.name"] == "gait"
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert len(tools) == len(signed_runpack.intents) == 3
    for span in tools:
        assert span.kind is SpanKind.INTERNAL
        assert span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert span.attributes["gen_ai.operation.name"] == "execute_tool"
        assert span.attributes["gen_ai.tool.name"] == span.name.removeprefix("execute_tool ")
        assert span.attributes["gen_ai.tool.call.id"].startswith("intent_")
    assert [s.status.status_code for s in tools] == [
        StatusCode.UNSET,
        StatusCode.UNSET,
        StatusCode.ERROR,
    ]
    assert tools[2].attributes["error.type"] == "gait.tool_error"
    assert tools[0].start_time == base.unix_nanos("2026-03-01T12:00:01.25Z")
    memory.clear()
    exporter.export(base.spans_from_runpack(signed_runpack))
    again = memory.get_finished_spans()
    assert [(s.context.trace_id, s.context.span_id) for s in again] == [
        (s.context.trace_id, s.context.span_id) for s in spans
    ]


def test_otel_trace_span(trace: dict, gate_result: dict) -> None:
    memory = _memory()
    from opentelemetry.trace import StatusCode

    from gait.export.otel import OtelExporter

    OtelExporter(memory).export(base.spans_from_trace(trace, gate_result))
    [span] = memory.get_finished_spans()
    assert span.name == "execute_tool tool.write"
    assert span.attributes["gait.verdict"] == "allow"
    assert span.attributes["gait.policy_digest"] == trace["policy_digest"]
    assert tuple(span.attributes["gait.reason_codes"]) == tuple(gate_result["reason_codes"])
    assert span.attributes["gen_ai.tool.call.id"] == trace["trace_id"]
    memory.clear()
    OtelExporter(memory).export(base.spans_from_trace(dict(trace, verdict="block")))
    [blocked] = memory.get_finished_spans()
    assert blocked.status.status_code is StatusCode.ERROR
    assert blocked.attributes["error.type"] == "gait.block"


def test_otel_endpoint_down_is_one_clear_warning(trace: dict) -> None:
    _memory()
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from gait.export.otel import OtelExporter

    class Down(SpanExporter):
        def export(self, spans):  # noqa: ANN001, ANN202
            return SpanExportResult.FAILURE

    class Refused(SpanExporter):
        def export(self, spans):  # noqa: ANN001, ANN202
            raise ConnectionRefusedError(111, "Connection refused")

    for broken, text in ((Down(), "returned FAILURE"), (Refused(), "Connection refused")):
        exporter = OtelExporter(broken)
        with pytest.raises(ExportFailed) as caught:
            exporter.export(base.spans_from_trace(trace))
        assert caught.value.code == "E_EXPORT_FAILED" and caught.value.retryable
        assert text in caught.value.message
        [warning] = publish([exporter], base.spans_from_trace(trace))
        assert "E_EXPORT_FAILED" in warning


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``gait export`` is not in the top-level table yet: register it for this process only."""
    script = (
        "import sys\nimport gait.cli.main as m\n"
        "m.COMMANDS['export'] = ('gait.cli.export', 'export spans')\n"
        "sys.exit(m.main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GAIT_HOME": str(home)},
        timeout=60,
        check=False,
    )


def test_export_cli(tmp_path: Path, gait_home: Path, conformance_dir: Path) -> None:
    runpack = conformance_dir / "reference/runpacks/runpack_run_ref.zip"
    out = tmp_path / "spans.jsonl"
    proc = _cli(
        "export", str(runpack), "--to", f"jsonl:{out}", "--json", home=gait_home, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["spans"] == len(out.read_text().splitlines()) and doc["id"] == "run_ref"
    trace = conformance_dir / "reference/approval/trace_after.json"
    result = conformance_dir / "reference/approval/gate_eval_after.json"
    proc = _cli(
        "export",
        str(trace),
        "--result",
        str(result),
        "--to",
        f"jsonl:{out}",
        home=gait_home,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gait.reason_codes" in out.read_text().splitlines()[-1]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    down = _cli(
        "export", str(trace), "--to", f"jsonl:{blocker}/x.jsonl", home=gait_home, cwd=tmp_path
    )
    assert down.returncode == 1 and down.stderr.startswith("gait: E_EXPORT_FAILED: ")
    assert "Traceback" not in down.stderr
    bad = _cli("export", str(trace), "--to", "carrier-pigeon", home=gait_home, cwd=tmp_path)
    assert bad.returncode == 6 and "E_USAGE" in bad.stderr
    tampered = conformance_dir / "reference/runpacks/runpack_run_ref.tampered.zip"
    refused = _cli("export", str(tampered), "--to", f"jsonl:{out}", home=gait_home, cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
