"""The shared runtime on a real server: health, drain, error mapping, retries, reflection."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from aiorch.v1 import (
    embeddings_pb2,
    embeddings_pb2_grpc,
    monitor_pb2,
    monitor_pb2_grpc,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
)
from services.common.channels import CHANNEL_OPTIONS, open_channel
from services.common.errors import InvalidInput, Overloaded, Unavailable, field_violations
from services.common.server import Server, Service, create_server

EMBEDDINGS = "aiorch.v1.EmbeddingsService"


class ScriptedEmbeddings(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    """Answers each call with the next scripted outcome: an exception to raise, or a delay."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls = 0

    async def Embed(self, request, context):
        self.calls += 1
        step = self.script.pop(0) if self.script else None
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, float):
            await asyncio.sleep(step)
        return embeddings_pb2.EmbedResponse(model="scripted")


async def started(servicer):
    server = create_server(
        [
            Service(
                EMBEDDINGS, servicer, embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    return server


async def call(server, timeout=5):
    async with open_channel(f"127.0.0.1:{server.port}") as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        return await stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"]), timeout=timeout)


async def health_of(port, service=""):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return reply.status


async def test_health_is_serving_once_started_and_not_serving_while_draining():
    server = await started(ScriptedEmbeddings(1.0))
    assert await health_of(server.port) == health_pb2.HealthCheckResponse.SERVING
    assert await health_of(server.port, EMBEDDINGS) == health_pb2.HealthCheckResponse.SERVING
    in_flight = asyncio.create_task(call(server))
    await asyncio.sleep(0.2)
    await server.health.enter_graceful_shutdown()
    assert await health_of(server.port, EMBEDDINGS) == health_pb2.HealthCheckResponse.NOT_SERVING
    await server.server.stop(2)
    assert (await in_flight).model == "scripted"


async def test_stop_lets_an_in_flight_call_finish_within_the_grace_period():
    servicer = ScriptedEmbeddings(0.5)
    server = await started(servicer)
    in_flight = asyncio.create_task(call(server))
    await asyncio.sleep(0.1)
    await server.stop(grace=3)
    assert (await in_flight).model == "scripted"


async def test_invalid_input_reaches_the_client_with_field_violations():
    server = await started(ScriptedEmbeddings(InvalidInput("texts[0]", "must not be empty")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(server)
    await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(rpc_status.from_call(caught.value)) == {"texts[0]": "must not be empty"}


async def test_a_request_that_cannot_be_decoded_is_invalid_argument_not_unknown():
    # Through the gateway a JSON body nested past protobuf's depth limit gets this far;
    # gRPC's own answer (UNKNOWN with the decoder's text) became a 500 there.
    server = await started(ScriptedEmbeddings())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        raw = channel.unary_unary(f"/{EMBEDDINGS}/Embed")  # bytes in, bytes out
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await raw(b"\x0a\xff", timeout=5)  # a field whose length runs past the end
        after = embeddings_pb2.EmbedResponse.FromString(
            await raw(embeddings_pb2.EmbedRequest(texts=["x"]).SerializeToString(), timeout=5)
        )
    await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(rpc_status.from_call(caught.value))
    assert set(violations) == {"request"} and "decoded" in violations["request"]
    assert after.model == "scripted"  # the next call is decoded as ever


async def test_overload_reaches_the_client_with_retry_info():
    # The channel retries an overload after its pushback; one that outlasts every attempt
    # reaches the client as it was sent.
    servicer = ScriptedEmbeddings(*[Overloaded("queue full", retry_after=0.05)] * 4)
    server = await started(servicer)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(server)
    await server.stop(0)
    assert servicer.calls == 4
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = error_details_pb2.RetryInfo()
    assert rpc_status.from_call(caught.value).details[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == 50


async def test_an_unexpected_exception_is_internal_and_shows_no_internals():
    server = await started(ScriptedEmbeddings(KeyError("secret-table-name")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call(server)
    await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in caught.value.details()
    assert "Traceback" not in str(caught.value.debug_error_string())


async def test_the_channel_retries_unavailable_until_it_succeeds():
    servicer = ScriptedEmbeddings(Unavailable("warming up"), Unavailable("warming up"))
    server = await started(servicer)
    reply = await call(server)
    await server.stop(0)
    assert reply.model == "scripted"
    assert servicer.calls == 3


class StopsWhileBusy(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    """A replica that stops while busy: its first call holds the event loop, so the calls
    reaching it meanwhile are taken by gRPC but by no handler, and then it stops."""

    def __init__(self):
        self.server: Server | None = None
        self.stopped: asyncio.Task | None = None

    async def Embed(self, request, context):
        if self.server is not None:
            server, self.server = self.server, None
            time.sleep(0.3)  # noqa: ASYNC251 (holding the loop is the point)
            self.stopped = asyncio.get_running_loop().create_task(server.stop(5))
        return embeddings_pb2.EmbedResponse(model="stopping")


def embed_concurrently(target: str, count: int) -> Counter:
    """The codes of `count` calls sent 10 ms apart through a channel with the services'
    options, from threads (the servers' loop is held meanwhile)."""
    with grpc.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)

        def one(index: int) -> str:
            time.sleep(0.01 * index)
            try:
                stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"]), timeout=10)
            except grpc.RpcError as error:
                return error.code().name
            return "OK"

        with ThreadPoolExecutor(count) as pool:
            return Counter(pool.map(one, range(count)))


async def test_calls_a_stopping_replica_took_but_never_handled_go_to_another():
    # gRPC answers them CANCELLED, not UNAVAILABLE (grpc/grpc#41785): the rare
    # "step classify: CANCELLED" of a rolling restart. The channel retries them.
    stopping = StopsWhileBusy()
    first, second = await started(stopping), await started(ScriptedEmbeddings())
    stopping.server = first
    target = f"ipv4:127.0.0.1:{first.port},127.0.0.1:{second.port}"
    codes = await asyncio.to_thread(embed_concurrently, target, 20)
    await second.stop(0)
    assert stopping.stopped is not None
    await stopping.stopped
    assert codes == Counter(OK=20)


async def test_the_channel_does_not_retry_a_non_transient_error():
    servicer = ScriptedEmbeddings(InvalidInput("texts", "bad"), InvalidInput("texts", "bad"))
    server = await started(servicer)
    with pytest.raises(grpc.aio.AioRpcError):
        await call(server)
    await server.stop(0)
    assert servicer.calls == 1


async def test_an_rpc_not_built_yet_answers_unimplemented():
    server = create_server(
        [
            Service(
                "aiorch.v1.MonitorService",
                monitor_pb2_grpc.MonitorServiceServicer(),
                monitor_pb2_grpc.add_MonitorServiceServicer_to_server,
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await monitor_pb2_grpc.MonitorServiceStub(channel).GetStatus(
                monitor_pb2.GetStatusRequest(), timeout=2
            )
    await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_health_watch_streams_the_serving_status():
    server = await started(ScriptedEmbeddings())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(health_pb2.HealthCheckRequest(service=EMBEDDINGS), timeout=5)
            first = await watch.read()
            watch.cancel()
    finally:
        await server.stop(0)
    assert first.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_service_and_health():
    server = await started(ScriptedEmbeddings())
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in reply.list_services_response.service}
            break
    await server.stop(0)
    assert {EMBEDDINGS, "grpc.health.v1.Health"} <= names


async def test_a_downstream_unavailable_reaches_the_caller_as_unavailable_not_internal():
    """A service whose own call to another service fails passes the transient code on."""

    class Down(embeddings_pb2_grpc.EmbeddingsServiceServicer):
        async def Embed(self, request, context):
            raise Unavailable("down")

    class Relay(embeddings_pb2_grpc.EmbeddingsServiceServicer):
        async def Embed(self, request, context):
            return await call(downstream)

    downstream = await started(Down())
    relay = await started(Relay())
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(relay)
    finally:
        await relay.stop(0)
        await downstream.stop(0)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "unavailable" in caught.value.details()


async def test_replicas_listed_by_address_share_the_calls_round_robin():
    replicas = [ScriptedEmbeddings(), ScriptedEmbeddings()]
    servers = [await started(servicer) for servicer in replicas]
    addr = ",".join(f"127.0.0.1:{server.port}" for server in servers)
    async with open_channel(addr) as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        for _ in range(20):
            await stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"]), timeout=5)
    for server in servers:
        await server.stop(0)
    # Round robin over those that are connected: the first calls may all go to the
    # replica that connected first.
    calls = [servicer.calls for servicer in replicas]
    assert sum(calls) == 20 and min(calls) >= 5, calls


# A service whose drain never ends, run as `python -m services.<name>` runs it: serve().
# A service as its __main__ starts it (server.run, its settings from AIORCH_*), whose
# drain either returns or ignores the stop.
_SERVICE = """
import asyncio, logging, sys
from services.common import server
from services.common.settings import Settings

server.CLOSE_SECONDS = 0.5

async def wait_forever(grace):
    await asyncio.shield(asyncio.Event().wait())  # the drain itself ignores cancel

async def done(grace):
    return None

async def build(settings, stack):
    loop = type(asyncio.get_running_loop())
    logging.getLogger("test").info("loop", extra={"loop": f"{loop.__module__}.{loop.__name__}"})
    drain = wait_forever if sys.argv[1] == "stuck" else done
    return [server.Service("aiorch.v1.Stuck", None, lambda s, srv: None, drain=drain)]

server.run("embeddings", build, Settings)
"""


def _start_and_stop(drain: str) -> tuple[int, str, str]:
    """Starts the service with `drain`, stops it with SIGTERM once it serves:
    (exit code, its log up to serving, the rest of its log)."""
    import os
    import signal
    import subprocess
    import sys

    from services.common.settings import PROJECT_ROOT
    from tools.suite import free_addr

    env = os.environ | {
        "AIORCH_GRACE_SECONDS": "0.2",
        "AIORCH_EMBEDDINGS_ADDR": free_addr(),
        "AIORCH_EMBEDDINGS_METRICS_ADDR": "",
        "AIORCH_LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVICE, drain],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    started = ""
    try:
        for line in process.stderr:  # serving: now stop it
            started += line
            if '"serving"' in line:
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    return process.returncode, started, rest


def test_a_service_runs_on_uvloop_and_stops_cleanly():
    code, started, rest = _start_and_stop("done")
    assert '"loop": "uvloop.Loop"' in started
    assert '"stopped"' in rest
    assert code == 0


def test_a_stop_that_overruns_its_grace_says_what_it_waits_on_and_exits():
    code, _, rest = _start_and_stop("stuck")
    assert code == 1
    assert "the stop overran its grace; exiting now" in rest
    assert "wait_forever" in rest  # the task it waited on, named


class CutStream(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    async def WatchWorkflow(self, request, context):
        yield orchestrator_pb2.WatchWorkflowResponse(
            status=orchestrator_pb2.WORKFLOW_STATUS_RUNNING
        )
        raise Unavailable("cut short", began=True)


async def test_a_stream_cut_short_after_work_began_ends_unavailable_with_its_message():
    """The answer commits the call first; a stream that sent a message has already."""
    server = create_server(
        [
            Service(
                "aiorch.v1.OrchestratorService",
                CutStream(),
                orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    received = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            call = orchestrator_pb2_grpc.OrchestratorServiceStub(channel).WatchWorkflow(
                orchestrator_pb2.WatchWorkflowRequest(workflow_id="w"), timeout=5
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                async for message in call:
                    received.append(message.status)
    finally:
        await server.stop(0)
    assert received == [orchestrator_pb2.WORKFLOW_STATUS_RUNNING]
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.UNAVAILABLE,
        "cut short",
    )
