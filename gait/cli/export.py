"""``gait export <runpack|trace.json> --to jsonl:PATH|otel[:ENDPOINT]``.

Not yet in the top-level command table (``gait.cli.main.COMMANDS``); registering it there as
``"export": ("gait.cli.export", ...)`` is all it needs.
"""

from __future__ import annotations

import argparse

from gait.cli.main import add_common
from gait.cli.output import Outcome
from gait.errors import ExitCode

EXPLAIN = (
    "gait export reads a runpack (verified first) or a gate trace record and sends it as "
    "OpenTelemetry GenAI execute_tool spans to a JSON Lines file (--to jsonl:PATH) or an OTLP "
    "collector (--to otel or otel:ENDPOINT; pip install 'pytest-gait[otel]'). The local "
    "artifact is never changed; a failed export exits 1 with E_EXPORT_FAILED."
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "artifact", help="runpack (run id or path), trace_<id>.json, or a directory of traces"
    )
    parser.add_argument(
        "--to", required=True, help="jsonl:PATH (or PATH.jsonl), otel or otel:ENDPOINT"
    )
    parser.add_argument(
        "--result", default=None, help="the GateResult JSON of a trace, for gait.reason_codes"
    )
    add_common(parser, EXPLAIN)
    parser.set_defaults(handler=run)


def _exporter(target: str):  # noqa: ANN202 - an Exporter
    from gait.errors import InvalidInput

    kind, _, rest = target.partition(":")
    if target.endswith(".jsonl") and kind != "jsonl" and kind != "otel":
        kind, rest = "jsonl", target  # a bare file name: what the docs once showed
    if kind == "jsonl" and rest:
        from gait.export.jsonl import JsonlExporter

        return JsonlExporter(rest)
    if kind == "otel":
        from gait.export.otel import OtelExporter, otlp_span_exporter

        return OtelExporter(otlp_span_exporter(rest))
    raise InvalidInput(
        f"unknown export target {target!r}",
        code="E_USAGE",
        hint="--to jsonl:PATH or --to otel[:ENDPOINT]",
    )


def _spans(artifact: str, result_path: str | None) -> tuple[list, str]:
    from pathlib import Path

    from gait.canon import loads_strict
    from gait.export.base import spans_from_runpack, spans_from_trace

    path = Path(artifact)
    if path.is_dir():
        # A trace directory (gait-out/traces): every trace in it, in file-name order.
        traces = sorted(path.glob("trace_*.json"))
        if not traces:
            from gait.errors import InvalidInput

            raise InvalidInput(
                f"{artifact} holds no trace_*.json files",
                code="E_EXPORT_INPUT_INVALID",
                hint="gait export gait-out/traces --to jsonl:spans.jsonl",
            )
        spans: list = []
        for trace in traces:
            spans += _spans(str(trace), None)[0]
        return spans, path.name
    if path.suffix == ".json" and path.is_file():
        record = loads_strict(path.read_bytes(), what=artifact, code="E_EXPORT_INPUT_INVALID")
        if not isinstance(record, dict) or record.get("schema_id") != "gait.gate.trace":
            from gait.errors import InvalidInput

            raise InvalidInput(
                f"{artifact} is not a gate trace record", code="E_EXPORT_INPUT_INVALID"
            )
        result = None
        if result_path:
            result = loads_strict(
                Path(result_path).read_bytes(), what=result_path, code="E_EXPORT_INPUT_INVALID"
            )
        return spans_from_trace(record, result), str(record.get("trace_id", ""))
    from gait.runpack.reader import load_runpack
    from gait.runpack.resolve import resolve

    runpack = load_runpack(resolve(artifact))
    return spans_from_runpack(runpack), runpack.run_id


def run(args: argparse.Namespace) -> Outcome:
    spans, ident = _spans(args.artifact, args.result)
    exporter = _exporter(args.to)
    try:
        exporter.export(spans)
    finally:
        exporter.close()
    payload = {"ok": True, "exporter": exporter.name, "id": ident, "spans": len(spans)}
    return Outcome(payload, ExitCode.OK, [f"exported {len(spans)} span(s) of {ident} to {args.to}"])
