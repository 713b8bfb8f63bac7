"""The orchestrator under trouble, against scripted capability services: cancellation
reaching the in-flight call, deadlines, retries, circuit breakers, a full queue."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.channels import open_channel
from services.common.errors import InvalidInput, Overloaded, Unavailable
from services.orchestrator import record
from services.orchestrator.executor import Executor
from services.orchestrator.store import WorkflowStore

from .orchestrator_fakes import (
    finished,
    request,
    running,
)


async def test_cancel_stops_the_in_flight_call(tmp_path):
    async with running(tmp_path, delay=30) as (fake, stub):
        created = (await stub.CreateWorkflow(request(wait=False), timeout=5)).workflow
        await asyncio.wait_for(fake.started.wait(), 5)
        cancel = pb.CancelWorkflowRequest(workflow_id=created.workflow_id)
        cancelled = (await stub.CancelWorkflow(cancel, timeout=5)).workflow
        for _ in range(100):
            if fake.cancelled["Classify"]:
                break
            await asyncio.sleep(0.02)
        stored = await finished(stub, created.workflow_id)
        again = (await stub.CancelWorkflow(cancel, timeout=5)).workflow
    assert fake.cancelled["Classify"] == 1  # the service saw its call cancelled
    assert cancelled.status == pb.WORKFLOW_STATUS_CANCELLED
    assert cancelled.steps[0].state == pb.STEP_STATE_CANCELLED
    assert stored == cancelled and again == cancelled


async def test_cancel_of_a_queued_workflow_means_it_never_runs(tmp_path):
    async with running(tmp_path, delay=30, orchestrator_workers=1) as (fake, stub):
        first = await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
        queued = await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
        await asyncio.wait_for(fake.started.wait(), 5)
        for workflow in (queued.workflow, first.workflow):
            cancel = pb.CancelWorkflowRequest(workflow_id=workflow.workflow_id)
            reply = await stub.CancelWorkflow(cancel, timeout=5)
            assert reply.workflow.status == pb.WORKFLOW_STATUS_CANCELLED
    assert fake.calls["Classify"] == 1


async def test_a_sync_caller_that_goes_away_cancels_its_workflow(tmp_path):
    async with running(tmp_path, delay=30) as (fake, stub):
        call = stub.CreateWorkflow(request(), timeout=30)
        await asyncio.wait_for(fake.started.wait(), 5)
        call.cancel()
        for _ in range(100):
            if fake.cancelled["Classify"]:
                break
            await asyncio.sleep(0.02)
    assert fake.cancelled["Classify"] == 1


async def test_cancel_of_an_unknown_workflow_is_not_found(tmp_path):
    async with running(tmp_path) as (_fake, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CancelWorkflow(
                pb.CancelWorkflowRequest(workflow_id="00000000-0000-4000-8000-000000000000")
            )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_slow_step_ends_deadline_exceeded_and_the_workflow_answers_in_time(tmp_path):
    async with running(tmp_path, delay=10) as (_fake, stub):
        started = time.perf_counter()
        slow = request(timeout=timedelta(milliseconds=500))
        workflow = (await stub.CreateWorkflow(slow, timeout=5)).workflow
        took = time.perf_counter() - started
    assert workflow.status == pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED
    assert workflow.steps[0].error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert 0.4 < took < 1.5


async def test_an_overloaded_service_is_retried_after_its_pushback(tmp_path):
    async with running(tmp_path) as (fake, stub):
        fake.errors["Classify"] = [Overloaded("busy", retry_after=0.3)]
        started = time.perf_counter()
        workflow = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        took = time.perf_counter() - started
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert workflow.steps[0].attempts == 2
    assert took >= 0.3


async def test_an_unavailable_service_is_retried_and_a_bad_request_is_not(tmp_path):
    async with running(tmp_path) as (fake, stub):
        fake.errors["Classify"] = [Unavailable("warming up")]
        retried = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        fake.errors["Classify"] = [InvalidInput("text", "no")]
        refused = (await stub.CreateWorkflow(request(use_cache=False), timeout=5)).workflow
    assert (retried.status, retried.steps[0].attempts) == (pb.WORKFLOW_STATUS_SUCCEEDED, 2)
    assert (refused.status, refused.steps[0].attempts) == (pb.WORKFLOW_STATUS_FAILED, 1)
    assert refused.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert fake.calls["Classify"] == 3


async def test_an_open_breaker_fails_required_steps_fast_and_skips_optional_ones(tmp_path):
    async with running(tmp_path, breaker_failures=2, breaker_reset_seconds=60) as (fake, stub):
        fake.always_fail["Embed"] = RuntimeError("broken")  # answers, but INTERNAL
        with_embedding = request(use_cache=False, expected_outputs=["label", "embedding"])
        for _ in range(2):
            workflow = (await stub.CreateWorkflow(with_embedding, timeout=10)).workflow
            assert workflow.status == pb.WORKFLOW_STATUS_PARTIAL
            assert workflow.steps[1].state == pb.STEP_STATE_FAILED
        calls = fake.calls["Embed"]
        partial = (await stub.CreateWorkflow(with_embedding, timeout=10)).workflow
        started = time.perf_counter()
        required = (
            await stub.CreateWorkflow(request(type="embedding", use_cache=False), timeout=10)
        ).workflow
        took = time.perf_counter() - started
        health = await stub.GetServicesHealth(pb.GetServicesHealthRequest(), timeout=5)
        advice = await stub.Optimize(
            pb.OrchestratorServiceOptimizeRequest(),
            metadata=(("x-user-id", "root"), ("x-user-roles", "admin")),
            timeout=5,
        )
    assert fake.calls["Embed"] == calls  # no call went out while open
    assert partial.status == pb.WORKFLOW_STATUS_PARTIAL
    assert partial.result.classification.label == "finance"
    embed = partial.steps[1]
    assert embed.state == pb.STEP_STATE_SKIPPED
    assert "circuit breaker is open" in embed.error.message
    assert "embed skipped" in partial.error.message
    assert required.status == pb.WORKFLOW_STATUS_FAILED
    assert required.error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert took < 0.5
    breakers = {s.name: s.breaker_state for s in health.services}
    assert breakers["embeddings"] == pb.BREAKER_STATE_OPEN
    assert breakers["classifier"] == pb.BREAKER_STATE_CLOSED
    assert "embeddings is failing" in advice.recommendations[0].title


async def test_a_breaker_closes_again_after_a_successful_probe(tmp_path):
    async with running(tmp_path, breaker_failures=1, breaker_reset_seconds=0.3) as (fake, stub):
        fake.errors["Embed"] = [RuntimeError("broken")]  # INTERNAL: not retried
        embedding = request(type="embedding", use_cache=False)
        failed = (await stub.CreateWorkflow(embedding, timeout=10)).workflow
        fast = (await stub.CreateWorkflow(embedding, timeout=10)).workflow
        await asyncio.sleep(0.35)
        probe = (await stub.CreateWorkflow(embedding, timeout=10)).workflow
    assert failed.status == fast.status == pb.WORKFLOW_STATUS_FAILED
    assert "circuit breaker" in fast.error.message
    assert probe.status == pb.WORKFLOW_STATUS_SUCCEEDED


async def test_a_full_queue_answers_resource_exhausted_with_retry_info(tmp_path):
    settings = {"orchestrator_workers": 1, "queue_size_normal": 1, "queue_size_high": 1}
    async with running(tmp_path, delay=30, **settings) as (_fake, stub):
        for _ in range(2):  # one runs, one waits
            await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
        high = await stub.CreateWorkflow(
            request(wait=False, use_cache=False, priority=pb.PRIORITY_HIGH), timeout=5
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = error_details_pb2.RetryInfo()
    assert rpc_status.from_call(caught.value).details[0].Unpack(retry)
    assert retry.retry_delay.seconds >= 1
    trailers = dict(caught.value.trailing_metadata())
    assert int(trailers["retry-after"]) >= 1
    assert high.workflow.status == pb.WORKFLOW_STATUS_PENDING


class _Refusing(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    """Answers RESOURCE_EXHAUSTED with the pushback it is given, counting the calls."""

    def __init__(self, pushback_ms: str):
        self.pushback_ms = pushback_ms
        self.calls = 0

    async def Embed(self, request, context):
        self.calls += 1
        await context.abort(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "busy",
            trailing_metadata=(("grpc-retry-pushback-ms", self.pushback_ms),),
        )


@pytest.mark.parametrize(("pushback_ms", "calls"), [("-1", 1), ("10", 4)])
async def test_resource_exhausted_is_retried_only_as_the_servers_pushback_allows(
    pushback_ms, calls
):
    servicer = _Refusing(pushback_ms)
    server = grpc.aio.server()
    embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with open_channel(f"127.0.0.1:{port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await embeddings_pb2_grpc.EmbeddingsServiceStub(channel).Embed(
                embeddings_pb2.EmbedRequest(texts=["x"]), timeout=5
            )
    await server.stop(0)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert servicer.calls == calls


async def test_a_batchs_items_count_against_the_queue(tmp_path):
    settings = {"orchestrator_workers": 1, "queue_size_normal": 3}
    async with running(tmp_path, delay=30, **settings) as (_fake, stub):
        items = [request(wait=False, use_cache=False)] * 5
        reply = await stub.CreateBatch(
            pb.CreateBatchRequest(items=items, max_parallelism=1), timeout=5
        )
        await asyncio.sleep(0.1)  # the first item runs; two wait for their turn
        await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateWorkflow(request(wait=False, use_cache=False), timeout=5)
    accepted = [item for item in reply.items if item.workflow_id]
    refused = [item for item in reply.items if item.HasField("error")]
    assert len(accepted) == 3
    assert {item.error.code for item in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]}
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_a_sync_workflow_ended_by_a_bug_answers_internal_which_nothing_retries(
    tmp_path, monkeypatch
):
    runs = []

    async def broken(self, run):
        runs.append(run.workflow.workflow_id)
        raise RuntimeError("a bug")

    monkeypatch.setattr(Executor, "run", broken)
    async with running(tmp_path) as (_, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateWorkflow(request(), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "the workflow failed unexpectedly"
    assert len(runs) == 1


async def test_a_second_caller_with_the_key_hears_the_bug_the_first_heard(tmp_path, monkeypatch):
    async def broken(self, run):
        record.start(run.workflow)
        await self.persist(run)
        await asyncio.sleep(2)  # the second caller arrives and waits on this run
        raise RuntimeError("a bug")

    monkeypatch.setattr(Executor, "run", broken)
    async with running(tmp_path) as (_, stub):
        first = asyncio.ensure_future(stub.CreateWorkflow(request(idempotency_key="k"), timeout=10))
        await asyncio.sleep(0.2)
        second = stub.CreateWorkflow(request(idempotency_key="k"), timeout=10)
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert [o.code() for o in outcomes] == [grpc.StatusCode.INTERNAL] * 2, outcomes


async def test_a_result_whose_last_write_failed_still_reaches_its_caller(tmp_path, monkeypatch):
    update = WorkflowStore.update

    async def final_write_fails(self, workflow, updated_at, owner):
        if record.is_final(workflow.status):
            raise Unavailable("the store is away")
        return await update(self, workflow, updated_at, owner)

    monkeypatch.setattr(WorkflowStore, "update", final_write_fails)
    async with running(tmp_path) as (_, stub):
        reply = await stub.CreateWorkflow(request(idempotency_key="k"), timeout=10)
    assert reply.workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
