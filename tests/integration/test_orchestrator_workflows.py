"""The orchestrator's workflows over gRPC, against scripted capability services: async
and sync, watch, batch, idempotency, the result cache, hybrid parallelism, admin RPCs."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import meeting_intel_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import DomainError, field_violations

from .orchestrator_fakes import (
    finished,
    request,
    running,
)

ADMIN = (("x-user-id", "root"), ("x-user-roles", "admin"))


class NotBuilt(DomainError):
    """What a service answers for a part of its contract not built yet."""

    code = grpc.StatusCode.UNIMPLEMENTED


async def test_an_async_workflow_answers_at_once_and_its_status_shows_the_end(tmp_path):
    async with running(tmp_path, delay=0.3) as (_fake, stub):
        started = time.perf_counter()
        created = (await stub.CreateWorkflow(request(wait=False), timeout=5)).workflow
        assert time.perf_counter() - started < 0.25
        assert created.status == pb.WORKFLOW_STATUS_PENDING
        workflow = await finished(stub, created.workflow_id)
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    classify = workflow.steps[0]
    assert (classify.state, classify.attempts) == (pb.STEP_STATE_SUCCEEDED, 1)
    took = classify.finished_at.ToNanoseconds() - classify.started_at.ToNanoseconds()
    assert took >= 0.3e9
    assert workflow.result.classification.label == "finance"
    assert workflow.usage.input_tokens == 7


async def test_watch_streams_each_step_event_to_the_final_workflow(tmp_path):
    async with running(tmp_path, delay=0.2) as (_fake, stub):
        created = (await stub.CreateWorkflow(request(wait=False), timeout=5)).workflow
        events = [
            event
            async for event in stub.WatchWorkflow(
                pb.WatchWorkflowRequest(workflow_id=created.workflow_id), timeout=10
            )
        ]
    states = [e.step_state for e in events if e.step == "classify"]
    # The first event is where the step stood when the watch began; then each change.
    assert states[-2:] == [pb.STEP_STATE_RUNNING, pb.STEP_STATE_SUCCEEDED]
    assert states[0] in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING)
    assert events[-1].status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert events[-1].workflow.result.classification.label == "finance"


async def test_watching_a_finished_workflow_gives_it_at_once_and_an_unknown_one_is_not_found(
    tmp_path,
):
    async with running(tmp_path) as (_fake, stub):
        done = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        watch = pb.WatchWorkflowRequest(workflow_id=done.workflow_id)
        events = [e async for e in stub.WatchWorkflow(watch, timeout=5)]
        assert [(e.step, e.step_state) for e in events[:-1]] == [
            ("classify", pb.STEP_STATE_SUCCEEDED)
        ]
        assert events[-1].workflow == done
        unknown = pb.WatchWorkflowRequest(workflow_id="00000000-0000-4000-8000-000000000000")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [e async for e in stub.WatchWorkflow(unknown, timeout=5)]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_batch_reports_bad_items_and_runs_the_others_with_bounded_parallelism(tmp_path):
    async with running(tmp_path, delay=0.1) as (fake, stub):
        items = [request(text=f"Invoice number {i}.", use_cache=False) for i in range(6)]
        items[2].input.text = ""
        reply = await stub.CreateBatch(
            pb.CreateBatchRequest(items=items, max_parallelism=2), timeout=5
        )
        assert [item.index for item in reply.items] == list(range(6))
        bad = reply.items[2]
        assert bad.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert "input.text" in field_violations(bad.error)
        ids = [item.workflow_id for item in reply.items if item.workflow_id]
        assert len(ids) == 5 and reply.batch_id
        done = [await finished(stub, workflow_id) for workflow_id in ids]
    assert {w.status for w in done} == {pb.WORKFLOW_STATUS_SUCCEEDED}
    assert fake.calls["Classify"] == 5
    assert fake.most_active["Classify"] <= 2


async def test_a_batch_over_the_limit_is_refused_whole(tmp_path):
    async with running(tmp_path, batch_max_items=3) as (_fake, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateBatch(pb.CreateBatchRequest(items=[request()] * 4), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "items" in field_violations(rpc_status.from_call(caught.value))


async def test_the_same_idempotency_key_from_the_same_caller_returns_the_first_workflow(
    tmp_path,
):
    async with running(tmp_path, delay=0.2) as (fake, stub):
        keyed = request(idempotency_key="order-42", use_cache=False)
        alice = (("x-user-id", "alice"),)
        together = await asyncio.gather(
            *(stub.CreateWorkflow(keyed, metadata=alice, timeout=5) for _ in range(3))
        )
        again = await stub.CreateWorkflow(keyed, metadata=alice, timeout=5)
        bob = await stub.CreateWorkflow(keyed, metadata=(("x-user-id", "bob"),), timeout=5)
    first = together[0].workflow
    assert first.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert {reply.workflow.workflow_id for reply in together} == {first.workflow_id}
    assert again.workflow == first
    assert bob.workflow.workflow_id != first.workflow_id
    assert fake.calls["Classify"] == 2


async def test_a_repeated_request_is_served_from_the_cache_unless_it_says_not_to(tmp_path):
    async with running(tmp_path) as (fake, stub):
        first = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        second = (await stub.CreateWorkflow(request(wait=False), timeout=5)).workflow
        bypass = (await stub.CreateWorkflow(request(use_cache=False), timeout=5)).workflow
        stored = await finished(stub, second.workflow_id)
    assert not first.cached and second.cached and not bypass.cached
    assert second.status == pb.WORKFLOW_STATUS_SUCCEEDED and stored == second
    assert second.result == first.result
    assert second.usage.input_tokens == 0  # nothing was spent on it
    assert fake.calls["Classify"] == 2


async def test_identical_requests_in_flight_are_computed_once(tmp_path):
    async with running(tmp_path, delay=0.3) as (fake, stub):
        replies = await asyncio.gather(
            *(stub.CreateWorkflow(request(), timeout=5) for _ in range(5))
        )
    workflows = [reply.workflow for reply in replies]
    assert {w.status for w in workflows} == {pb.WORKFLOW_STATUS_SUCCEEDED}
    assert sorted(w.cached for w in workflows) == [False] + [True] * 4
    assert len({w.workflow_id for w in workflows}) == 5
    assert fake.calls["Classify"] == 1


async def test_hybrid_runs_its_branches_in_parallel(tmp_path):
    async with running(tmp_path, delay=0.5) as (fake, stub):
        hybrid = request(type="hybrid", use_cache=False)
        started = time.perf_counter()
        workflow = (await stub.CreateWorkflow(hybrid, timeout=10)).workflow
        took = time.perf_counter() - started
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert 0.5 <= took < 1.2  # one after the other would take 1.5 s
    assert {rpc: fake.calls[rpc] for rpc in ("Classify", "Analyze", "Embed")} == dict.fromkeys(
        ("Classify", "Analyze", "Embed"), 1
    )
    result = workflow.result
    assert result.classification.keywords and result.classification.summary
    assert result.meeting.summary == "They met."
    assert result.embedding.embeddings[0].values == [0.5, 0.5]


async def test_a_hybrid_branch_that_fails_leaves_the_others_as_partial(tmp_path):
    async with running(tmp_path) as (fake, stub):
        fake.always_fail["Analyze"] = NotBuilt("not built")
        workflow = (await stub.CreateWorkflow(request(type="hybrid"), timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_PARTIAL
    assert "analyze failed (not built)" in workflow.error.message
    assert workflow.result.classification.label and workflow.result.embedding.embeddings


async def test_meeting_intelligence_analyzes_segments_and_classifies_when_asked(tmp_path):
    segments = [
        meeting_intel_pb2.TranscriptSegment(speaker="Ann", text="Bob, send the invoice."),
        meeting_intel_pb2.TranscriptSegment(speaker="Bob", text="I will, by Friday."),
    ]
    meeting = pb.CreateWorkflowRequest(
        type="meeting_intelligence",
        wait=True,
        input=pb.WorkflowInput(segments=segments, taxonomy="document_types"),
        expected_outputs=["action_items", "summary", "label"],
    )
    async with running(tmp_path) as (fake, stub):
        workflow = (await stub.CreateWorkflow(meeting, timeout=10)).workflow
        fake.always_fail["Analyze"] = NotBuilt("not built")
        meeting.use_cache = False
        failed = (await stub.CreateWorkflow(meeting, timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert workflow.result.meeting.summary == "They met."
    assert workflow.result.classification.label == "report"
    assert failed.status == pb.WORKFLOW_STATUS_FAILED
    assert failed.error.code == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert failed.error.message == "step analyze: not built"


async def test_an_embedding_workflow_gives_one_vector(tmp_path):
    embedding = pb.CreateWorkflowRequest(
        type="embedding", wait=True, input=pb.WorkflowInput(text="Hello there.")
    )
    async with running(tmp_path) as (_fake, stub):
        workflow = (await stub.CreateWorkflow(embedding, timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert len(workflow.result.embedding.embeddings) == 1


async def test_list_types_reads_the_declarations_with_their_default_timeouts(tmp_path):
    async with running(tmp_path, hybrid_timeout_seconds=42) as (_fake, stub):
        reply = await stub.ListWorkflowTypes(pb.ListWorkflowTypesRequest(), timeout=5)
    types = {t.name: t for t in reply.types}
    assert set(types) == {
        "classification",
        "meeting_intelligence",
        "hybrid",
        "embedding",
        "assistant",
    }
    assert types["hybrid"].default_timeout.seconds == 42
    assert [s.name for s in types["classification"].steps] == ["classify", "embed"]
    assert "embedding" in types["classification"].outputs
    index = types["meeting_intelligence"].steps[-1]
    assert (index.name, index.service, index.rpc) == ("index", "assistant", "IndexDocument")
    assert "indexed" not in types["meeting_intelligence"].default_outputs


async def test_admin_rpcs_need_the_admin_role(tmp_path):
    admin = (("x-user-id", "root"), ("x-user-roles", "admin"))
    invalidate = pb.InvalidateCacheRequest(pattern="classification:*")
    async with running(tmp_path) as (fake, stub):
        for call, message in (
            (stub.GetCacheStats, pb.GetCacheStatsRequest()),
            (stub.InvalidateCache, invalidate),
            (stub.Optimize, pb.OrchestratorServiceOptimizeRequest()),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(message, timeout=5)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        await stub.CreateWorkflow(request(), timeout=5)
        await stub.CreateWorkflow(request(), timeout=5)
        stats = await stub.GetCacheStats(pb.GetCacheStatsRequest(), metadata=admin, timeout=5)
        removed = await stub.InvalidateCache(invalidate, metadata=admin, timeout=5)
        await stub.CreateWorkflow(request(), timeout=5)
    assert stats.levels[0].level == "l1" and stats.levels[0].entries == 1
    assert stats.hit_rate == 0.5
    assert removed.removed == 1
    assert fake.calls["Classify"] == 2


async def test_a_workflow_is_its_creators_and_nobody_elses(tmp_path):
    alice, bob = (("x-user-id", "alice"),), (("x-user-id", "bob"),)
    admin = (("x-user-id", "root"), ("x-user-roles", "admin"))
    async with running(tmp_path, delay=0.5) as (_fake, stub):
        created = await stub.CreateWorkflow(request(wait=False), metadata=alice, timeout=5)
        workflow_id = created.workflow.workflow_id
        for call, message in (
            (stub.GetWorkflow, pb.GetWorkflowRequest(workflow_id=workflow_id)),
            (stub.CancelWorkflow, pb.CancelWorkflowRequest(workflow_id=workflow_id)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:  # not even that it exists
                await call(message, metadata=bob, timeout=5)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            watch = pb.WatchWorkflowRequest(workflow_id=workflow_id)
            [event async for event in stub.WatchWorkflow(watch, metadata=bob, timeout=5)]
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        read = pb.GetWorkflowRequest(workflow_id=workflow_id)
        seen_by_admin = (await stub.GetWorkflow(read, metadata=admin, timeout=5)).workflow
        done = await finished(stub, workflow_id, metadata=alice)
        with pytest.raises(grpc.aio.AioRpcError) as caught:  # stored, and still not bob's
            await stub.GetWorkflow(read, metadata=bob, timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert seen_by_admin.workflow_id == workflow_id
    assert done.status == pb.WORKFLOW_STATUS_SUCCEEDED


async def test_a_caller_nobody_vouched_for_is_refused(tmp_path):
    async with running(tmp_path) as (_fake, stub):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateWorkflow(request(), metadata=(("x-user-id", " "),), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_services_health_checks_each_dependency_with_its_breaker(tmp_path):
    async with running(tmp_path, meeting_intel_addr="127.0.0.1:1") as (_fake, stub):
        reply = await stub.GetServicesHealth(pb.GetServicesHealthRequest(), timeout=5)
        optimized = await stub.Optimize(
            pb.OrchestratorServiceOptimizeRequest(), metadata=ADMIN, timeout=5
        )
    health = {s.name: s for s in reply.services}
    assert set(health) == {"classifier", "meeting_intel", "embeddings", "assistant"}
    assert health["classifier"].serving and health["classifier"].latency_ms > 0
    assert health["classifier"].breaker_state == pb.BREAKER_STATE_CLOSED
    assert not health["meeting_intel"].serving and "UNAVAILABLE" in health["meeting_intel"].error
    assert optimized.recommendations[0].figures


async def test_a_redis_that_is_down_costs_no_request_and_shows_in_health(tmp_path):
    async with running(tmp_path, redis_url="redis://127.0.0.1:1/0") as (fake, stub):
        first = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        second = (await stub.CreateWorkflow(request(), timeout=5)).workflow
        reply = await stub.GetServicesHealth(pb.GetServicesHealthRequest(), timeout=5)
    assert first.status == second.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert second.cached and fake.calls["Classify"] == 1  # L1 carries on
    redis = {s.name: s for s in reply.services}["redis"]
    assert not redis.serving and not redis.address  # internal addresses are not shown
    assert "redis unavailable" in redis.error
