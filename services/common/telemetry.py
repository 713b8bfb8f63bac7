"""OpenTelemetry tracing of every service, configured by the standard OTEL_* variables.

Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and neither OTEL_SDK_DISABLED=true nor
OTEL_TRACES_EXPORTER=none turns it off. Then `install_tracing` (called once by `serve`)
exports spans in batches over OTLP/gRPC, the servers created by `create_server` and the
channels opened by `open_channel` carry the gRPC instrumentation of
opentelemetry-instrumentation-grpc, and W3C trace context travels in the call metadata.
Sampling, batching, resource attributes and exporter options are the SDK's own OTEL_*
variables. With none set nothing is installed: no spans, no interceptors, no cost.
"""

from __future__ import annotations

import os

from opentelemetry import trace

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def otlp_endpoint() -> str:
    """Where spans go (http://host:4317), or empty when tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return ""
    return next((os.environ[v] for v in ENDPOINT_VARS if os.environ.get(v)), "")


def tracing_enabled() -> bool:
    return bool(otlp_endpoint())


def install_tracing(service: str):
    """Installs the process's tracer provider (`service` names it unless
    OTEL_SERVICE_NAME does); returns it, to shut down (flush) at exit, or None when off."""
    if not tracing_enabled():
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptors() -> list:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(filter_=_api_only)]


def client_interceptors() -> list:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(filter_=_api_only))


def _api_only(details) -> bool:
    """Health checks (every few seconds from Envoy, Kubernetes and the monitor) and
    reflection are not traced: they would bury the requests. (The library's own filters
    check the call details against a typing Protocol, tens of microseconds a call.)"""
    method = details.method
    return not (method.decode() if isinstance(method, bytes) else method).startswith("/grpc.")


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span in progress, as hex, or None outside one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# Spans of the runtime's own work beside the gRPC ones (model calls, embeddings batches);
# a no-op tracer until install_tracing has run.
tracer = trace.get_tracer("aiorch")


def model_span(operation: str, model: str, backend: str):
    """A client span around one call to a model server (OpenTelemetry's gen_ai names);
    the caller adds the token counts. Never the texts."""
    return tracer.start_as_current_span(
        f"{operation} {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": model,
            "aiorch.backend": backend,
        },
    )


def set_usage(span, input_tokens: int, output_tokens: int) -> None:
    if span.is_recording():
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
