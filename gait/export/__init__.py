"""Optional exporters: copies of local artifacts for log and tracing backends.

``gait.export.base`` holds the interface (``Exporter``), the span model built from trace records
and runpacks, ``publish`` (failures become warnings) and ``BackgroundExporter`` (a slow endpoint
never delays a decision). ``gait.export.jsonl`` appends JSON Lines; ``gait.export.otel`` sends
OpenTelemetry spans (``pip install 'pytest-gait[otel]'``). Nothing here is needed for correctness:
local artifacts are authoritative.
"""

from gait.export.base import (
    BackgroundExporter,
    Exporter,
    ExportFailed,
    ToolSpan,
    publish,
    spans_from_runpack,
    spans_from_trace,
)

__all__ = [
    "BackgroundExporter",
    "ExportFailed",
    "Exporter",
    "ToolSpan",
    "publish",
    "spans_from_runpack",
    "spans_from_trace",
]
