"""OpenTelemetry tracing, off by default: request → outbox headers → Kafka → platform call → recorder write."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

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

tracer = trace.get_tracer("activator")


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


def _processor(kind: str) -> SpanProcessor | None:
    if kind == "console":
        return SimpleSpanProcessor(JsonLinesSpanExporter())
    if kind == "otlp":
        # Endpoint and headers come from the standard OTEL_EXPORTER_OTLP_* variables.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        return BatchSpanProcessor(OTLPSpanExporter())
    return None


def configure_tracing(service: str, exporter_kind: str) -> TracerProvider | None:
    """Install a tracer provider for this process when an exporter is configured; None when tracing is off."""
    processor = _processor(exporter_kind)
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
