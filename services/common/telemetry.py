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

import functools
import os

import grpc
from opentelemetry import context as otel_context
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
    if not os.environ.get("OTEL_PROPAGATORS"):
        # W3C trace context only: the suite carries no baggage, and the SDK's default
        # (tracecontext,baggage) would read and write it on every call.
        from opentelemetry.propagate import set_global_textmap
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        set_global_textmap(TraceContextTextMapPropagator())
    return provider


def server_interceptors() -> list:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    traced = aio_server_interceptor(filter_=_api_only)
    library: type = type(traced)
    traced.__class__ = _gated_server(library)
    return [traced]


def client_interceptors() -> list:
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    traced = aio_client_interceptors(filter_=_api_only)
    for interceptor in traced:
        library: type = type(interceptor)
        if isinstance(interceptor, grpc.aio.UnaryUnaryClientInterceptor):
            interceptor.__class__ = _gated_unary_client(library)
        elif isinstance(interceptor, grpc.aio.UnaryStreamClientInterceptor):
            interceptor.__class__ = _gated_stream_client(library)
    return list(traced)


# Sampling. The gateway decides, once per request, whether its trace is recorded (Envoy's
# random_sampling, from OTEL_TRACES_SAMPLER_ARG), and says so in the sampled flag of the
# traceparent it sends; every service follows that flag (the SDK's parent-based sampler),
# so a sampled request is recorded whole, in every service, as one trace, and one that is
# not leaves no span anywhere. The instrumentation library does its whole per-call work
# (attributes, a span, a wrapped servicer context, metadata copies) even for a call it will
# not record, so its interceptors are used as subclasses that take unsampled calls past
# it: the server attaches the caller's context (a non-recording span, so spans started
# inside follow the decision too, and log lines still carry the trace id) and the client
# hands the same unsampled traceparent on. Subclasses rather than interceptors of our own
# in front: every grpc.aio interceptor is one more layer each call goes through. Calls
# with no traceparent (a client of the services' own) are the library's, and the sampler
# decides for them as a root.
TRACEPARENT = "traceparent"


def unsampled_parent(metadata) -> trace.SpanContext | None:
    """The caller's span context when its traceparent says "not sampled", else None
    (sampled, absent or malformed: the instrumentation library deals with those)."""
    for key, value in metadata or ():
        if key != TRACEPARENT:
            continue
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        # version-trace_id-span_id-flags, 00-<32 hex>-<16 hex>-<2 hex>
        if len(value) != 55 or value[2] != "-" or value[35] != "-" or value[52] != "-":
            return None
        try:
            flags = int(value[53:], 16)
            trace_id, span_id = int(value[3:35], 16), int(value[36:52], 16)
        except ValueError:
            return None
        if flags & 1 or not trace_id or not span_id or value[:2] == "ff":
            return None
        return trace.SpanContext(trace_id, span_id, is_remote=True)
    return None


@functools.cache
def _gated_server(library: type) -> type:
    class GatedServer(library):
        """The library's server interceptor for calls to record, with the attributes a
        server span needs (rpc.*) and not those it works out for every call from the peer
        address and the metadata (net.peer.*, user agent): behind the gateway the peer is
        always Envoy, whose own span has the client's address. Unsampled calls get the
        caller's context only."""

        async def intercept_service(self, continuation, handler_call_details):
            parent = unsampled_parent(handler_call_details.invocation_metadata)
            if parent is None:
                return await super().intercept_service(continuation, handler_call_details)
            # The handler runs after the interceptors in this same task, the call's own,
            # which ends with the call: the context attached here is the call's alone, so
            # it needs no detach, nor a wrapper around the handler to hold one.
            otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
            return await continuation(handler_call_details)

        def _start_span(self, handler_call_details, context, set_status_on_exception=False):
            method = handler_call_details.method
            service, _, name = method.lstrip("/").partition("/")
            return self._tracer.start_as_current_span(
                name=method,
                kind=trace.SpanKind.SERVER,
                attributes={
                    "rpc.system": "grpc",
                    "rpc.service": service,
                    "rpc.method": name,
                    "rpc.grpc.status_code": 0,
                },
                set_status_on_exception=set_status_on_exception,
            )

    return GatedServer


def _unsampled_details(details):
    """`details` with the current unsampled context's traceparent, or None when the
    current context is recorded or has no trace (the library's case)."""
    current = trace.get_current_span().get_span_context()
    if not current.is_valid or current.trace_flags.sampled:
        return None
    header = (TRACEPARENT, f"00-{current.trace_id:032x}-{current.span_id:016x}-00")
    metadata = grpc.aio.Metadata(*(details.metadata or ()), header)
    return details._replace(metadata=metadata)


@functools.cache
def _gated_unary_client(library: type) -> type:
    class GatedUnaryClient(library):
        async def intercept_unary_unary(self, continuation, client_call_details, request):
            details = _unsampled_details(client_call_details)
            if details is None:
                return await super().intercept_unary_unary(
                    continuation, client_call_details, request
                )
            return await continuation(details, request)

    return GatedUnaryClient


@functools.cache
def _gated_stream_client(library: type) -> type:
    class GatedStreamClient(library):
        async def intercept_unary_stream(self, continuation, client_call_details, request):
            details = _unsampled_details(client_call_details)
            if details is None:
                return await super().intercept_unary_stream(
                    continuation, client_call_details, request
                )
            return await continuation(details, request)

    return GatedStreamClient


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
