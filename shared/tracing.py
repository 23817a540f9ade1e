"""OpenTelemetry tracing, off by default: request → outbox headers → Kafka → platform call → recorder write."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

if TYPE_CHECKING:  # a type only: the setup below reads Settings, which no code here needs at import
    from shared.settings import Settings

tracer = trace.get_tracer("activator")
# The OTLP defaults of the OpenTelemetry specification, per protocol.
DEFAULT_OTLP_ENDPOINTS = {"grpc": "http://localhost:4317", "http/protobuf": "http://localhost:4318"}
HTTP_TRACES_PATH = "/v1/traces"


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """Where the `otlp` exporter sends spans: the protocol and the full endpoint."""

    protocol: str
    endpoint: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OtlpTarget:
        """OTEL_EXPORTER_OTLP_PROTOCOL / _ENDPOINT / _TRACES_ENDPOINT as the OTel specification reads them:
        the traces endpoint as is, else the base URL (HTTP: plus /v1/traces), else the protocol's default.
        An empty variable counts as unset (compose passes them through empty)."""
        protocol = settings.otel_exporter_otlp_protocol
        if settings.otel_exporter_otlp_traces_endpoint:
            return cls(protocol, settings.otel_exporter_otlp_traces_endpoint)
        base = settings.otel_exporter_otlp_endpoint or DEFAULT_OTLP_ENDPOINTS[protocol]
        if protocol == "grpc":
            return cls(protocol, base)
        return cls(protocol, base.rstrip("/") + HTTP_TRACES_PATH)


class JsonLinesSpanExporter(SpanExporter):
    """One JSON line per finished span on stderr, beside the logs (the `console` exporter)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans; attribute values that are not JSON (bytes keys) are written as text."""
        for span in spans:
            context = span.get_span_context()
            line = {
                "otel_span": span.name,
                "trace_id": f"{context.trace_id:032x}" if context else None,
                "span_id": f"{context.span_id:016x}" if context else None,
                "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                "service": span.resource.attributes.get("service.name"),
                "attributes": dict(span.attributes or {}),
                "links": [f"{link.context.trace_id:032x}" for link in span.links],
            }
            sys.stderr.write(json.dumps(line, default=str) + "\n")
        sys.stderr.flush()
        return SpanExportResult.SUCCESS


def otlp_exporter(target: OtlpTarget) -> SpanExporter:
    """The OTLP span exporter of the target's protocol (headers: OTEL_EXPORTER_OTLP_HEADERS, read by it)."""
    # Imported here: a process with tracing off loads neither exporter (grpc is a large import).
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=target.endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    return OTLPSpanExporter(endpoint=target.endpoint)


def _processor(kind: str, otlp: OtlpTarget | None) -> SpanProcessor | None:
    if kind == "console":
        return SimpleSpanProcessor(JsonLinesSpanExporter())
    if kind == "otlp":
        if otlp is None:
            from shared.settings import load_settings  # noqa: PLC0415 (see the import above)

            otlp = OtlpTarget.from_settings(load_settings())
        return BatchSpanProcessor(otlp_exporter(otlp))
    return None


def configure_tracing(
    service: str, exporter_kind: str, otlp: OtlpTarget | None = None
) -> TracerProvider | None:
    """Install a tracer provider for this process when an exporter is configured; None when tracing is off.

    `otlp` defaults to the OTEL_EXPORTER_OTLP_* settings of the environment.
    """
    processor = _processor(exporter_kind, otlp)
    if processor is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"activator-{service}"}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def current_trace_headers() -> dict[str, str]:
    """W3C trace context of the current span, to store with an outbox row (empty when tracing is off)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str]) -> Context:
    """The trace context carried by message headers."""
    return propagate.extract(dict(headers))
