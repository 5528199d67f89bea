"""OpenTelemetry exporter (``pip install 'pytest-gait[otel]'``): trace records and runpack steps
as spans.

Spans are built in a private ``TracerProvider`` whose id generator hands out the ids derived
from the artifact, then given to a ``SpanExporter`` in one call. Doing the hand-off here (instead
of through a span processor, which logs and swallows failures) lets an endpoint that is down
come back as one clear ``E_EXPORT_FAILED`` warning, while the local artifact stays as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gait.errors import DependencyMissing, InvalidInput
from gait.export.base import ExportUnavailable, ToolSpan

INSTALL_HINT = "pip install 'pytest-gait[otel]'"


def _require_sdk() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise DependencyMissing(
            "the OpenTelemetry exporter needs opentelemetry-sdk",
            code="E_EXPORT_OTEL_MISSING",
            hint=INSTALL_HINT,
        ) from exc


PROTOCOLS = ("http/protobuf", "grpc")
TRACES_PATH = "/v1/traces"


def protocol() -> str:
    """The OTLP protocol the environment asks for (``http/protobuf`` by default)."""
    import os

    value = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if value not in PROTOCOLS:
        raise InvalidInput(
            f"OTLP protocol {value!r} is not supported (use http/protobuf or grpc)",
            code="E_EXPORT_OTEL_PROTOCOL",
            hint="set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or grpc with the otel-grpc extra",
        )
    return value


def traces_endpoint(base: str, proto: str = "http/protobuf") -> str:
    """``base`` as the traces endpoint: OTLP/HTTP appends ``/v1/traces`` to a base URL."""
    if not base or proto == "grpc":
        return base
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"OTLP endpoint {base!r} is not an http(s) URL",
            code="E_USAGE",
            hint="--to otel:http://collector:4318 (the /v1/traces path is added)",
        )
    path = parts.path.rstrip("/")
    if not path.endswith(TRACES_PATH):
        path += TRACES_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def env_headers() -> dict[str, str] | None:
    """``OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`` (``k=v,k2=v2``, values URL-encoded)."""
    import os
    from urllib.parse import unquote

    raw = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get(
        "OTEL_EXPORTER_OTLP_HEADERS"
    )
    if not raw:
        return None
    headers = {}
    for item in raw.split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers or None


def otlp_span_exporter(endpoint: str = "") -> Any:
    """The OTLP span exporter for the configured protocol, when its package is installed."""
    _require_sdk()
    proto = protocol()
    headers = env_headers()
    if proto == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as exc:
            raise DependencyMissing(
                "OTLP over grpc needs opentelemetry-exporter-otlp-proto-grpc",
                code="E_EXPORT_OTEL_MISSING",
                hint="pip install 'pytest-gait[otel-grpc]'",
            ) from exc
        kwargs: dict[str, Any] = {"headers": headers} if headers else {}
        return GrpcExporter(endpoint=endpoint, **kwargs) if endpoint else GrpcExporter(**kwargs)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise DependencyMissing(
            "exporting over OTLP needs opentelemetry-exporter-otlp-proto-http",
            code="E_EXPORT_OTEL_MISSING",
            hint=INSTALL_HINT,
        ) from exc
    kwargs = {"headers": headers} if headers else {}
    if endpoint:
        return OTLPSpanExporter(endpoint=traces_endpoint(endpoint, proto), **kwargs)
    return OTLPSpanExporter(**kwargs)


def default_service_name(default: str = "gait") -> str:
    """``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` when set, else ``default``."""
    from opentelemetry.sdk.resources import Resource

    name = str(Resource.create({}).attributes.get("service.name") or "")
    return default if not name or name.startswith("unknown_service") else name


class OtelExporter:
    name = "otel"

    def __init__(self, span_exporter: Any = None, *, service_name: str | None = None) -> None:
        _require_sdk()
        self.span_exporter = span_exporter if span_exporter is not None else otlp_span_exporter()
        self.service_name = service_name or default_service_name()

    def build(self, spans: Sequence[ToolSpan]) -> list[Any]:
        """The SDK's ReadableSpans for ``spans``: same artifact, same ids and times."""
        from opentelemetry.context import Context
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.id_generator import IdGenerator
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        class FixedIds(IdGenerator):
            trace_id = 1
            span_id = 1

            def generate_trace_id(self) -> int:
                return self.trace_id

            def generate_span_id(self) -> int:
                return self.span_id

        class Collect(SpanProcessor):
            def __init__(self) -> None:
                self.ended: list[Any] = []

            def on_end(self, span: Any) -> None:
                self.ended.append(span)

        ids = FixedIds()
        collect = Collect()
        provider = TracerProvider(
            resource=Resource.create({"service.name": self.service_name}), id_generator=ids
        )
        provider.add_span_processor(collect)
        from gait import __version__

        tracer = provider.get_tracer("gait", __version__)
        live: dict[str, Any] = {}
        for item in spans:
            ids.trace_id, ids.span_id = item.trace_id, item.span_id
            parent = live.get(item.parent_key)
            context = set_span_in_context(parent) if parent is not None else Context()
            span = tracer.start_span(
                item.name,
                context=context,
                kind=SpanKind.INTERNAL,
                attributes=dict(item.attributes),
                start_time=item.start_ns,
            )
            if item.error_type:
                span.set_status(Status(StatusCode.ERROR, item.error_type))
            span.end(end_time=item.end_ns)
            live[f"{item.span_key}"] = span
        provider.shutdown()
        return collect.ended

    def export(self, spans: Sequence[ToolSpan]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        built = self.build(spans)
        try:
            result = self.span_exporter.export(built)
        except Exception as exc:  # noqa: BLE001 - any transport error is the endpoint's
            raise ExportUnavailable(
                f"OpenTelemetry export failed: {type(exc).__name__}: {exc}",
                hint="the local artifact is unchanged; retry when the collector is reachable",
            ) from exc
        if result is not SpanExportResult.SUCCESS:
            raise ExportUnavailable(
                f"OpenTelemetry exporter returned {getattr(result, 'name', result)} "
                f"for {len(built)} span(s)",
                hint="the local artifact is unchanged; check the collector endpoint",
            )

    def close(self) -> None:
        try:
            self.span_exporter.shutdown()
        except Exception:  # noqa: BLE001 - closing never fails the caller
            pass
