"""The runtime's telemetry on real servers: access and audit lines, RPC metrics on both
sides, and spans exported to a real OTLP receiver with their ids in the log lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import grpc
import numpy as np
import pytest
from opentelemetry import trace
from prometheus_client import REGISTRY

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc, monitor_pb2, monitor_pb2_grpc
from services.common import telemetry
from services.common.channels import open_channel
from services.common.errors import Unavailable
from services.common.logs import JsonFormatter
from services.common.server import Service, create_server
from services.embeddings.batcher import MicroBatcher
from services.embeddings.model import Encoded
from tests.otlp_receiver import otlp_receiver

SECRET = "the text of a private document"


class Embeddings(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    async def Embed(self, request, context):
        if request.model == "down":
            raise Unavailable("the model is away")
        return embeddings_pb2.EmbedResponse(model="test")


class Monitor(monitor_pb2_grpc.MonitorServiceServicer):
    async def TrackActivity(self, request, context):
        return monitor_pb2.TrackActivityResponse(activity_id="act-1")

    async def GetStatus(self, request, context):
        return monitor_pb2.GetStatusResponse()

    async def WatchMetrics(self, request, context):
        for _ in range(3):
            yield monitor_pb2.WatchMetricsResponse()


@pytest.fixture
async def server():
    server = create_server(
        [
            Service(
                "aiorch.v1.EmbeddingsService",
                Embeddings(),
                embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
            ),
            Service(
                "aiorch.v1.MonitorService",
                Monitor(),
                monitor_pb2_grpc.add_MonitorServiceServicer_to_server,
            ),
        ],
        "127.0.0.1:0",
    )
    await server.start()
    yield server
    await server.stop(0)


class JsonLines(logging.Handler):
    """Formats each record as a service prints it, when it is logged (inside its call)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))

    def of(self, logger: str) -> list[dict]:
        return [x for x in self.lines if x["logger"] == logger]


@pytest.fixture
def logged():
    handler = JsonLines()
    loggers = [logging.getLogger(n) for n in ("aiorch.rpc", "aiorch.audit")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def count(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


EMBED = {"grpc_service": "aiorch.v1.EmbeddingsService", "grpc_method": "Embed"}


async def embed(server, model="", user="alice@example.com"):
    async with open_channel(f"127.0.0.1:{server.port}") as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        request = embeddings_pb2.EmbedRequest(texts=[SECRET], model=model)
        return await stub.Embed(request, timeout=5, metadata=[("x-user-id", user)])


async def test_a_call_is_one_line_with_a_pseudonym_and_sizes_never_the_text(server, logged):
    await embed(server)
    [line] = [x for x in logged.of("aiorch.rpc") if x["method"].endswith("/Embed")]
    assert line["code"] == "OK" and line["ms"] >= 0
    assert line["request_bytes"] > len(SECRET) and line["reply_bytes"] > 0
    assert len(line["caller"]) == 16 and "alice" not in json.dumps(line)
    assert SECRET not in json.dumps(logged.lines)


async def test_one_caller_has_one_pseudonym_and_another_caller_another(server, logged):
    for user in ("alice", "alice", "bob"):
        await embed(server, user=user)
    callers = [x["caller"] for x in logged.of("aiorch.rpc")]
    assert callers[0] == callers[1] != callers[2]


async def test_server_and_client_count_and_time_calls_by_code(server):
    ok = {**EMBED, "grpc_type": "unary", "grpc_code": "OK"}
    failed = {**ok, "grpc_code": "UNAVAILABLE"}
    before = {
        name: (count(name, **ok), count(name, **failed))
        for name in ("grpc_server_handled_total", "grpc_client_handled_total")
    }
    seconds = count("grpc_server_handling_seconds_count", **ok)
    await embed(server)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await embed(server, model="down")
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    # The client retries UNAVAILABLE: the server sees every attempt, the client one call.
    server, client = before["grpc_server_handled_total"], before["grpc_client_handled_total"]
    assert count("grpc_server_handled_total", **ok) == server[0] + 1
    assert count("grpc_server_handled_total", **failed) >= server[1] + 1
    assert count("grpc_client_handled_total", **ok) == client[0] + 1
    assert count("grpc_client_handled_total", **failed) == client[1] + 1
    assert count("grpc_server_handling_seconds_count", **ok) == seconds + 1


async def test_a_call_cancelled_before_anyone_waits_for_it_ends_once_as_cancelled(server):
    cancelled = {**EMBED, "grpc_type": "unary", "grpc_code": "CANCELLED"}
    started = {key: value for key, value in cancelled.items() if key != "grpc_code"}
    before = count("grpc_client_handled_total", **cancelled)
    began = count("grpc_client_started_total", **started)
    async with open_channel(f"127.0.0.1:{server.port}") as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        call = stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"]), timeout=5)
        assert call.cancel()  # as Link does with a call it will not make, nor wait for
        assert count("grpc_client_handled_total", **cancelled) == before + 1
        with pytest.raises(asyncio.CancelledError):
            await call  # whoever waits after all hears it, and it is not counted twice
    assert count("grpc_client_started_total", **started) == began + 1
    assert count("grpc_client_handled_total", **cancelled) == before + 1


async def test_a_stream_is_logged_and_counted_when_it_ends(server, logged):
    labels = {
        "grpc_service": "aiorch.v1.MonitorService",
        "grpc_method": "WatchMetrics",
        "grpc_type": "server_stream",
        "grpc_code": "OK",
    }
    before = count("grpc_client_handled_total", **labels)
    async with open_channel(f"127.0.0.1:{server.port}") as channel:
        stub = monitor_pb2_grpc.MonitorServiceStub(channel)
        replies = [r async for r in stub.WatchMetrics(monitor_pb2.WatchMetricsRequest())]
    assert len(replies) == 3
    [line] = [x for x in logged.of("aiorch.rpc") if x["method"].endswith("/WatchMetrics")]
    assert line["code"] == "OK" and line["messages_sent"] == 3
    assert count("grpc_client_handled_total", **labels) == before + 1


async def test_a_mutating_call_leaves_an_audit_line(server, logged):
    async with open_channel(f"127.0.0.1:{server.port}") as channel:
        stub = monitor_pb2_grpc.MonitorServiceStub(channel)
        await stub.TrackActivity(
            monitor_pb2.TrackActivityRequest(), timeout=5, metadata=[("x-user-id", "carol")]
        )
        await stub.GetStatus(monitor_pb2.GetStatusRequest(), timeout=5)  # reads: none
    [line] = logged.of("aiorch.audit")
    assert line["action"] == "/aiorch.v1.MonitorService/TrackActivity"
    assert line["target"] == "act-1" and line["code"] == "OK"
    assert len(line["caller"]) == 16 and "carol" not in json.dumps(line)


class Relay(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    """A service that calls another for its answer, as classifier calls embeddings."""

    def __init__(self, addr: str):
        self.addr = addr

    async def Embed(self, request, context):
        async with open_channel(self.addr) as channel:
            stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
            return await stub.Embed(request, timeout=5)


def embeddings_service(servicer) -> Service:
    return Service(
        "aiorch.v1.EmbeddingsService",
        servicer,
        embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
    )


@pytest.fixture(scope="module")
async def traced():
    """(receiver, flush, address of a relay service that calls an embeddings service),
    both traced and exporting to a real OTLP receiver. One tracer provider per process
    (OpenTelemetry allows no second), so the tests of spans share it."""
    with otlp_receiver() as (endpoint, receiver), pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        provider = telemetry.install_tracing("telemetry-test")
        assert provider is not None
        back = create_server([embeddings_service(Embeddings())], "127.0.0.1:0")
        await back.start()
        front = create_server([embeddings_service(Relay(f"127.0.0.1:{back.port}"))], "127.0.0.1:0")
        await front.start()
        try:
            yield receiver, provider.force_flush, front
        finally:
            await front.stop(0)
            await back.stop(0)
            provider.shutdown()


async def test_spans_reach_an_otlp_receiver_and_their_ids_are_on_the_log_line(traced, logged):
    receiver, _, server = traced
    await embed(server)
    lines = [x for x in logged.of("aiorch.rpc") if x["method"].endswith("/Embed")]
    trace_id = lines[0]["trace_id"]
    spans = receiver.wait_for(lambda s: len([x for x in s if x.trace_id == trace_id]) >= 4)
    spans = [s for s in spans if s.trace_id == trace_id]
    # The test's call (client), the relay (server, then client), the service (server).
    assert [s.kind for s in spans].count(2) == 2 and [s.kind for s in spans].count(3) == 2
    by_id = {s.span_id: s for s in spans}
    [root] = [s for s in spans if not s.parent_id]
    assert root.kind == 3  # SPAN_KIND_CLIENT: the test's own call started the trace
    [relay] = [s for s in spans if s.kind == 2 and s.parent_id == root.span_id]
    assert relay.name == "/aiorch.v1.EmbeddingsService/Embed"
    assert relay.service == "telemetry-test"
    assert relay.attributes["rpc.grpc.status_code"] == 0
    [leaf] = [s for s in spans if s.kind == 2 and s is not relay]
    assert by_id[leaf.parent_id].kind == 3 and by_id[leaf.parent_id].parent_id == relay.span_id
    # Each service's line names its own server span.
    assert {(x["trace_id"], x["span_id"]) for x in lines} == {
        (s.trace_id, s.span_id) for s in (relay, leaf)
    }
    assert not any(SECRET in str(s.attributes) for s in spans)


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def traced_call(server, flags: str, trace_id: str = TRACE):
    """A call as Envoy makes it: with its traceparent, its sampling decision in `flags`."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        metadata = [("traceparent", f"00-{trace_id}-00f067aa0ba902b7-{flags}")]
        return await stub.Embed(
            embeddings_pb2.EmbedRequest(texts=[SECRET]), timeout=5, metadata=metadata
        )


async def test_a_sampled_callers_trace_is_continued_in_every_service(traced, logged):
    receiver, _, server = traced
    trace_id = "5" * 32
    await traced_call(server, "01", trace_id)
    spans = receiver.wait_for(lambda s: len([x for x in s if x.trace_id == trace_id]) >= 3)
    spans = [s for s in spans if s.trace_id == trace_id]
    [relay] = [s for s in spans if s.parent_id == "00f067aa0ba902b7"]
    assert relay.kind == 2 and len(spans) == 3  # relay server, its client, the service
    assert {line["trace_id"] for line in logged.of("aiorch.rpc")} == {trace_id}


async def test_an_unsampled_request_records_nothing_anywhere_but_keeps_its_trace_id(traced, logged):
    """Envoy decided not to sample: neither service records a span (no fragment of the
    request becomes a trace of its own), and their log lines still name the trace."""
    receiver, flush, server = traced
    await traced_call(server, "00")
    await traced_call(server, "01", "6" * 32)  # a sampled one after it, to wait for
    flush()
    spans = receiver.wait_for(lambda s: any(x.trace_id == "6" * 32 for x in s))
    assert not [s for s in spans if s.trace_id == TRACE]
    # No service started a trace of its own for its part of the request.
    assert not [s for s in spans if s.kind == 2 and not s.parent_id]
    lines = [x for x in logged.of("aiorch.rpc") if x.get("trace_id") == TRACE]
    assert len(lines) == 2  # the relay's call and the service's, both of this request


async def test_a_model_servers_call_is_a_client_span_with_model_and_tokens_never_text(
    traced, settings, openai_embeddings_url
):
    """The embeddings service on a real OpenAI-compatible server: its HTTP call is a child
    span of the Embed call, with the model and the tokens read, and it is counted and
    priced in the AI metrics."""
    from services.embeddings.__main__ import build

    from .conftest import start_service

    receiver, _, _ = traced
    settings = settings.model_copy(
        update={
            "embeddings_backend": "openai",
            "openai_base_url": openai_embeddings_url,
            "openai_embeddings_model": "e5-passage",
            "prices": {"e5-passage": {"input": 1.0}},
        }
    )
    model = {"service": "embeddings", "backend": "openai", "model": "e5-passage"}
    cost = count("aiorch_ai_cost_dollars_total", **model)
    async with contextlib.AsyncExitStack() as stack:
        server, _ = await start_service("embeddings", build, settings, stack)
        await traced_call(server, "01", "7" * 32)
    spans = receiver.wait_for(lambda s: len([x for x in s if x.trace_id == "7" * 32]) >= 2)
    spans = {s.span_id: s for s in spans if s.trace_id == "7" * 32}
    [call] = [s for s in spans.values() if s.attributes.get("gen_ai.request.model")]
    assert call.kind == 3 and call.attributes["gen_ai.request.model"] == "e5-passage"
    assert call.attributes["gen_ai.usage.input_tokens"] > 0
    # Its parent is the Embed call's server span (or a span inside it).
    parent = spans[call.parent_id]
    while parent.kind != 2:
        parent = spans[parent.parent_id]
    assert parent.name == "/aiorch.v1.EmbeddingsService/Embed"
    assert not any(SECRET in str(s.attributes) for s in spans.values())
    assert count("aiorch_ai_cost_dollars_total", **model) > cost


def test_tracing_is_off_without_an_endpoint_and_off_when_disabled(monkeypatch):
    for name in (*telemetry.ENDPOINT_VARS, "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    assert not telemetry.tracing_enabled()
    assert telemetry.server_interceptors() == [] and telemetry.client_interceptors() == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    assert telemetry.tracing_enabled()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not telemetry.tracing_enabled()


def tokens(**labels) -> float:
    """Tokens counted under every label set that includes `labels`."""
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "aiorch_ai_tokens"
        for sample in family.samples
        if sample.name.endswith("_total") and labels.items() <= sample.labels.items()
    )


async def test_embeddings_count_tokens_batches_and_queue_time(suite):
    model = {"service": "embeddings", "backend": "local", "direction": "input"}
    before = tokens(**model)
    batches = count("aiorch_embeddings_batch_texts_count")
    waits = count("aiorch_embeddings_queue_seconds_count")
    async with suite.channel("embeddings") as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        await stub.Embed(embeddings_pb2.EmbedRequest(texts=["one text", "two"]), timeout=10)
    assert tokens(**model) >= before + 4  # a token or more per word, and [CLS]/[SEP]
    assert count("aiorch_embeddings_batch_texts_count") == batches + 1
    assert count("aiorch_embeddings_queue_seconds_count") == waits + 1


async def test_a_batch_is_traced_only_when_a_request_it_serves_is(traced):
    """The embeddings micro-batch: a span linked to the sampled calls it serves, and no
    span at all (no root trace of its own) when none of them is sampled."""
    receiver, flush, _ = traced

    def encode(texts):
        n = len(texts)
        return Encoded(np.ones((n, 2), np.float32), [1] * n, [False] * n)

    batcher = MicroBatcher(encode, max_wait=0)
    unsampled = trace.SpanContext(
        int("c0ffee" * 5 + "aa", 16),
        int("1" * 16, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(0),
    )
    with trace.use_span(trace.NonRecordingSpan(unsampled)):
        await batcher.encode_async(["not sampled"])
    with telemetry.tracer.start_as_current_span("a sampled caller") as caller:
        await batcher.encode_async(["sampled"])
    flush()
    wanted = f"{caller.get_span_context().trace_id:032x}"
    spans = receiver.wait_for(lambda s: any(x.name == "a sampled caller" for x in s))
    batches = [s for s in spans if s.name == "embeddings batch"]
    link = (wanted, f"{caller.get_span_context().span_id:016x}")
    assert len([b for b in batches if b.links == (link,)]) == 1
    # Without the rule, the unsampled call's batch would be a root span with no links.
    assert all(b.links for b in batches)
    assert not [s for s in spans if s.trace_id == "c0ffee" * 5 + "aa"]
