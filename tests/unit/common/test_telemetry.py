"""Which calls the tracing gates take past the instrumentation library: those whose
caller's traceparent says "not sampled", and only those."""

from __future__ import annotations

import grpc
from opentelemetry import context, trace

from services.common.telemetry import _unsampled_details, unsampled_parent

TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def header(flags: str, trace_id: str = TRACE, span_id: str = SPAN) -> tuple:
    return (("x-user-id", "ann"), ("traceparent", f"00-{trace_id}-{span_id}-{flags}"))


def test_an_unsampled_traceparent_gives_the_callers_context_and_nothing_else_does():
    parent = unsampled_parent(header("00"))
    assert parent is not None and parent.is_remote and not parent.trace_flags.sampled
    assert (format(parent.trace_id, "032x"), format(parent.span_id, "016x")) == (TRACE, SPAN)
    raw = tuple((k, v.encode()) for k, v in header("00"))  # binary metadata values
    assert unsampled_parent(raw) == parent
    assert unsampled_parent(header("01")) is None  # sampled: the library records it
    assert unsampled_parent(header("03")) is None  # sampled, with other flags set
    assert unsampled_parent((("x-user-id", "ann"),)) is None  # a root: the sampler decides
    assert unsampled_parent(None) is None


def test_a_malformed_or_invalid_traceparent_is_left_to_the_library():
    for bad in (
        header("00", trace_id="0" * 32),  # all-zero ids are invalid
        header("00", span_id="0" * 16),
        header("0x"),
        header("00", trace_id="g" * 32),
        (("traceparent", f"ff-{TRACE}-{SPAN}-00"),),  # version ff is forbidden
        (("traceparent", f"00-{TRACE}-{SPAN}-00-extra"),),
        (("traceparent", "00"),),
    ):
        assert unsampled_parent(bad) is None, bad


def details(metadata=None) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails("/aiorch.v1.EmbeddingsService/Embed", 5, metadata, None, True)


def test_an_unsampled_call_hands_the_same_decision_on_and_keeps_its_metadata():
    parent = trace.SpanContext(int(TRACE, 16), int(SPAN, 16), is_remote=True)
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
    try:
        sent = _unsampled_details(details(grpc.aio.Metadata(("x-user-id", "ann"))))
    finally:
        context.detach(token)
    assert sent is not None and sent.method.endswith("/Embed") and sent.timeout == 5
    assert list(sent.metadata) == [
        ("x-user-id", "ann"),
        ("traceparent", f"00-{TRACE}-{SPAN}-00"),
    ]


def test_a_recorded_or_traceless_call_is_the_librarys():
    assert _unsampled_details(details()) is None  # no trace at all: a root
    sampled = trace.SpanContext(
        int(TRACE, 16), int(SPAN, 16), is_remote=True, trace_flags=trace.TraceFlags(1)
    )
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(sampled)))
    try:
        assert _unsampled_details(details()) is None
    finally:
        context.detach(token)
