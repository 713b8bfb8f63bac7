"""Workflows outlive their orchestrator, on both store backends: what a dead one left is
resumed (PENDING) or failed with the reason (RUNNING); a stopping one hands its unfinished
work to the next."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.common.deadlines import Deadline
from services.orchestrator.orchestrator import new_workflow
from services.orchestrator.recovery import RESTARTED
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import validate_create

from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    finished,
    request,
    start_fakes,
    start_orchestrator,
)


async def _left_behind(store, settings, status, owner, lease_until) -> pb.Workflow:
    """A workflow as an orchestrator leaves it in the store."""
    create = request(wait=False, use_cache=False)
    plan = validate_create(create, settings)
    workflow = new_workflow(str(uuid.uuid4()), create, plan, Deadline.within(60))
    workflow.status = status
    await store.insert(
        workflow,
        request=create.SerializeToString(),
        owner=owner,
        lease_until=lease_until,
    )
    return workflow


async def test_work_a_dead_orchestrator_left_is_resumed_or_failed_never_left_hanging(
    tmp_path, database_url
):
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
        failed = await finished(stub, running.workflow_id)
        untouched = await store.get(others.workflow_id)
    assert resumed.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert resumed.result.classification.label == "finance"
    assert failed.status == pb.WORKFLOW_STATUS_FAILED
    assert failed.error.message == RESTARTED
    assert untouched.status == pb.WORKFLOW_STATUS_RUNNING  # its orchestrator still lives
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
