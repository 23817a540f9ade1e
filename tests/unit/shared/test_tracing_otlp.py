"""OTLP tracing over either protocol: OTEL_EXPORTER_OTLP_PROTOCOL picks the exporter, the endpoint is
read as the OpenTelemetry specification says, and spans reach a collector speaking that protocol."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from pydantic import ValidationError

from shared.settings import Settings
from shared.tracing import OtlpTarget, otlp_exporter


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, OtlpTarget("http/protobuf", "http://localhost:4318/v1/traces")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, OtlpTarget("http/protobuf", "http://localhost:4318/v1/traces")),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
            OtlpTarget("http/protobuf", "http://collector:4318/v1/traces"),
        ),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, OtlpTarget("grpc", "http://localhost:4317")),
        (
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"},
            OtlpTarget("grpc", "http://collector:4317"),
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.net/otlp/spans",
            },
            OtlpTarget("http/protobuf", "https://traces.example.net/otlp/spans"),
        ),
    ],
)
def test_the_endpoint_is_read_as_the_specification_says(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: OtlpTarget
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert OtlpTarget.from_settings(Settings()) == expected


def test_an_unknown_protocol_stops_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")  # no Python exporter speaks it
    with pytest.raises(ValidationError, match="otel_exporter_otlp_protocol"):
        Settings()


def test_the_protocol_picks_the_exporter() -> None:
    grpc_exporter = otlp_exporter(OtlpTarget("grpc", "http://localhost:4317"))
    http_exporter = otlp_exporter(OtlpTarget("http/protobuf", "http://localhost:4318/v1/traces"))
    try:
        assert isinstance(grpc_exporter, GrpcSpanExporter)
        assert isinstance(http_exporter, HttpSpanExporter)
    finally:
        grpc_exporter.shutdown()
        http_exporter.shutdown()  # type: ignore[no-untyped-call]


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.span_names: list[str] = []

    def Export(self, request: Any, _context: Any) -> Any:  # noqa: N802 (the service's method name)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.span_names += [span.name for span in scope.spans]
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def grpc_collector() -> Iterator[tuple[_Collector, int]]:
    collector = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield collector, port
    finally:
        server.stop(grace=None)


@pytest.fixture
def http_collector() -> Iterator[tuple[list[tuple[str, int]], int]]:
    received: list[tuple[str, int]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, len(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _send_one_span(target: OtlpTarget, name: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(otlp_exporter(target)))
    with provider.get_tracer("test").start_as_current_span(name):
        pass
    provider.shutdown()


def test_spans_reach_a_grpc_collector(
    monkeypatch: pytest.MonkeyPatch, grpc_collector: tuple[_Collector, int]
) -> None:
    collector, port = grpc_collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    _send_one_span(OtlpTarget.from_settings(Settings()), "push.slice")
    assert collector.span_names == ["push.slice"]


def test_spans_reach_an_http_collector(
    monkeypatch: pytest.MonkeyPatch, http_collector: tuple[list[tuple[str, int]], int]
) -> None:
    received, port = http_collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    _send_one_span(OtlpTarget.from_settings(Settings()), "push.slice")
    assert [path for path, _size in received] == ["/v1/traces"]
    assert received[0][1] > 0
