"""Workflows outlive their orchestrator, on both store backends: what a dead one left runs
again (PENDING or RUNNING), unless it has killed orchestrators too often; a restarted node
takes over at once; a stopping one hands its unfinished work to the next."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import grpc
import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc
from services.common.channels import CHANNEL_OPTIONS
from services.common.database import Database
from services.common.deadlines import Deadline
from services.common.errors import RETRY_SAFE
from services.common.server import create_server
from services.orchestrator import record
from services.orchestrator.__main__ import build as build_orchestrator
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import validate_create
from tests.callers import TESTER, channel_as

from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    finished,
    request,
    start_fakes,
    start_orchestrator,
)


async def _left_behind(store, settings, status, owner, lease_until, key="") -> pb.Workflow:
    """A workflow as an orchestrator leaves it in the store."""
    create = request(wait=False, use_cache=False, idempotency_key=key)
    plan = validate_create(create, settings)
    workflow = record.new(str(uuid.uuid4()), create, plan, Deadline.within(60))
    workflow.status = status
    await store.insert(
        workflow,
        caller=TESTER,
        idempotency_key=key,
        request=create.SerializeToString(),
        owner=owner,
        lease_until=lease_until,
    )
    return workflow


async def _store(stack, database_url) -> WorkflowStore:
    db = await Database.open(database_url)
    stack.push_async_callback(db.close)
    return await WorkflowStore.open(db)


async def test_work_a_dead_orchestrator_left_runs_again_never_left_hanging(tmp_path, database_url):
    async with contextlib.AsyncExitStack() as stack:
        fake = FakeCapabilities()
        settings = fake_settings(tmp_path, await start_fakes(stack, fake))
        settings = settings.model_copy(update={"database_url": database_url})
        db = await Database.open(database_url)
        stack.push_async_callback(db.close)
        store = await WorkflowStore.open(db)
        lapsed = int(time.time() * 1000) - 1
        pending = await _left_behind(store, settings, pb.WORKFLOW_STATUS_PENDING, "dead", lapsed)
        running = await _left_behind(store, settings, pb.WORKFLOW_STATUS_RUNNING, "dead", lapsed)
        alive_lease = int((time.time() + 60) * 1000)
        others = await _left_behind(
            store, settings, pb.WORKFLOW_STATUS_RUNNING, "alive", alive_lease
        )
        _, stub, _ = await start_orchestrator(stack, settings)
        resumed = await finished(stub, pending.workflow_id)
        rerun = await finished(stub, running.workflow_id)
        untouched = await store.get(others.workflow_id)
    # A step reads its input and writes nothing, so running an interrupted one again is safe.
    for workflow in (resumed, rerun):
        assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
        assert workflow.result.classification.label == "finance"
    assert untouched.status == pb.WORKFLOW_STATUS_RUNNING  # its orchestrator still lives
    assert fake.calls["Classify"] == 2


async def test_a_workflow_that_keeps_killing_orchestrators_is_failed_with_the_reason(
    tmp_path, database_url
):
    async with contextlib.AsyncExitStack() as stack:
        fake = FakeCapabilities()
        settings = fake_settings(tmp_path, await start_fakes(stack, fake))
        settings = settings.model_copy(update={"database_url": database_url})
        store = await _store(stack, database_url)
        lapsed = int(time.time() * 1000) - 1
        poison = await _left_behind(store, settings, pb.WORKFLOW_STATUS_RUNNING, "dead", lapsed)
        await store.db.execute(
            "UPDATE workflows SET interruptions = $1 WHERE workflow_id = $2",
            settings.max_interruptions - 1,
            poison.workflow_id,
        )
        _, stub, _ = await start_orchestrator(stack, settings)
        failed = await finished(stub, poison.workflow_id)
    assert failed.status == pb.WORKFLOW_STATUS_FAILED
    assert f"interrupted {settings.max_interruptions} times" in failed.error.message
    assert fake.calls["Classify"] == 0


async def test_a_restarted_node_takes_over_its_earlier_lifes_work_at_once(tmp_path, database_url):
    """kill -9 leaves the leases held for their full term; the same node, started again,
    does not wait for them. A sync caller that retries with its idempotency key gets the
    one workflow it started, finished, never a second one."""
    async with contextlib.AsyncExitStack() as stack:
        fake = FakeCapabilities()
        settings = fake_settings(tmp_path, await start_fakes(stack, fake))
        settings = settings.model_copy(
            update={
                "database_url": database_url,
                "orchestrator_node": f"node-{uuid.uuid4().hex[:8]}",
                "workflow_lease_seconds": 60,
            }
        )
        store = await _store(stack, database_url)
        held = int(time.time() * 1000) + 60_000
        dead = f"{settings.orchestrator_node}/an-earlier-life"
        key = uuid.uuid4().hex
        running = await _left_behind(store, settings, pb.WORKFLOW_STATUS_RUNNING, dead, held, key)
        _, stub, _ = await start_orchestrator(stack, settings)
        retried = request(use_cache=False, idempotency_key=key)
        reply = (await stub.CreateWorkflow(retried, timeout=10)).workflow
    assert reply.workflow_id == running.workflow_id
    assert reply.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert fake.calls["Classify"] == 1


async def test_a_stopping_orchestrator_hands_its_unfinished_work_to_the_next(
    tmp_path, database_url
):
    async with contextlib.AsyncExitStack() as outer:
        fake = FakeCapabilities(delay=30)
        settings = fake_settings(tmp_path, await start_fakes(outer, fake), grace_seconds=0.1)
        settings = settings.model_copy(update={"database_url": database_url})
        async with contextlib.AsyncExitStack() as first:
            _, stub, _ = await start_orchestrator(first, settings)
            create = request(wait=False, use_cache=False)
            created = (await stub.CreateWorkflow(create, timeout=5)).workflow
            await asyncio.wait_for(fake.started.wait(), 5)
        db = await Database.open(database_url)
        outer.push_async_callback(db.close)
        left = await (await WorkflowStore.open(db)).get(created.workflow_id)
        fake.delay["Classify"] = 0
        _, stub, _ = await start_orchestrator(outer, settings)
        resumed = await finished(stub, created.workflow_id)
    assert left.status == pb.WORKFLOW_STATUS_PENDING
    assert fake.cancelled["Classify"] == 1
    assert resumed.status == pb.WORKFLOW_STATUS_SUCCEEDED


async def _serving_slow_steps(stack, tmp_path, options=()):
    """(fake, settings, services, stub): an orchestrator on a real server, in front of
    capabilities that take 30 s, so what it runs is running when its drain comes; the
    stub's channel has `options`."""
    fake = FakeCapabilities(delay=30)
    settings = fake_settings(tmp_path, await start_fakes(stack, fake))
    services = await build_orchestrator(settings, stack)
    server = create_server(services, "127.0.0.1:0")
    await server.start()
    stack.push_async_callback(server.stop, 0)
    channel = channel_as(f"127.0.0.1:{server.port}", options=options)
    stack.push_async_callback(channel.close)
    return fake, settings, services, orchestrator_pb2_grpc.OrchestratorServiceStub(channel)


@pytest.mark.parametrize("options", [(), CHANNEL_OPTIONS], ids=["plain", "retry-policy"])
async def test_a_sync_call_without_a_key_cut_short_by_a_stop_is_not_sent_again(tmp_path, options):
    """Its steps began, and what they did may not be undone (an answer charged to the
    caller's budget): the caller may retry, but neither the gateway (no retry-safe
    trailer) nor a client's retry policy does it unasked. The suite's own policy retries
    UNAVAILABLE: the answer commits the call first, or it would be sent again (refused
    here by the drained orchestrator, run twice by another)."""
    async with contextlib.AsyncExitStack() as stack:
        fake, _, services, stub = await _serving_slow_steps(stack, tmp_path, options)
        waiting = asyncio.ensure_future(stub.CreateWorkflow(request(use_cache=False), timeout=30))
        await asyncio.wait_for(fake.started.wait(), 5)
        await services[0].drain(1.5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await waiting
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "stopped before this workflow finished; retry it" in caught.value.details()
    assert caught.value.trailing_metadata().get(RETRY_SAFE) is None
    assert fake.calls["Classify"] == 1


async def test_a_stop_hands_a_sync_callers_work_back_and_tells_it_to_retry(tmp_path):
    """The workflows' drain runs beside the server's, within the same grace: a sync
    caller whose workflow could not finish hears UNAVAILABLE before the grace is over,
    and its workflow waits, PENDING, for the next orchestrator."""
    async with contextlib.AsyncExitStack() as stack:
        fake, settings, services, stub = await _serving_slow_steps(stack, tmp_path)
        key = uuid.uuid4().hex
        waiting = asyncio.ensure_future(
            stub.CreateWorkflow(request(use_cache=False, idempotency_key=key), timeout=30)
        )
        await asyncio.wait_for(fake.started.wait(), 5)
        started = time.perf_counter()
        await services[0].drain(1.5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await waiting
        took = time.perf_counter() - started
        # A call the server takes after the drain closed the queue: refused, nothing kept.
        late = uuid.uuid4().hex
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateWorkflow(request(use_cache=False, idempotency_key=late), timeout=5)
        store = await _store(stack, settings.database_url.get_secret_value())
        left = await store.find(TESTER, key)
        kept = await store.find(TESTER, late)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry with the same idempotency_key" in caught.value.details()
    assert took < 1.5
    assert left.status == pb.WORKFLOW_STATUS_PENDING
    # Both are safe to send again as they were, which the gateway does on this trailer.
    assert caught.value.trailing_metadata().get(RETRY_SAFE) == "true"
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.value.trailing_metadata().get(RETRY_SAFE) == "true"
    assert kept is None
