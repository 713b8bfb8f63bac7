"""Refusals of a full shared queue: the store is asked once, then this replica refuses
that priority itself for a moment, so an overload does not become the database's."""

from __future__ import annotations

import asyncio
import types

import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import Overloaded
from services.orchestrator.shared_queue import SharedQueue

NORMAL, HIGH = pb.PRIORITY_NORMAL, pb.PRIORITY_HIGH


class _Store:
    """A shared queue of `limit` places per priority, counting what it is asked."""

    def __init__(self, limit: int):
        self.limit = limit
        self.waiting = {NORMAL: 0, HIGH: 0}
        self.asked = 0

    async def enqueue(self, workflow, request, *, caller, idempotency_key, queued_at, limit):
        self.asked += 1
        if self.waiting[workflow.priority] >= limit:
            return None
        self.waiting[workflow.priority] += 1
        return True

    async def queued(self):
        self.asked += 1
        return dict(self.waiting)


def _queue(store: _Store, full_seconds: float, mean_run_seconds: float = 1.0) -> SharedQueue:
    scheduler = types.SimpleNamespace(room=lambda: 0, workers=2, mean_run_seconds=mean_run_seconds)
    leases = types.SimpleNamespace(owner="me", until=lambda: 0)
    sizes = {NORMAL: store.limit, HIGH: store.limit}
    return SharedQueue(store, None, scheduler, leases, sizes, replicas=1, full_seconds=full_seconds)


async def _put(queue: SharedQueue, priority=NORMAL) -> bool:
    workflow = pb.Workflow(workflow_id="w", priority=priority)
    return await queue.put(workflow, pb.CreateWorkflowRequest(), caller="c")


async def test_refusals_right_after_the_store_said_full_cost_the_store_nothing():
    store = _Store(limit=4)
    queue = _queue(store, full_seconds=60)
    for _ in range(4):
        assert await _put(queue)
    asked = store.asked
    refusals = []
    for _ in range(50):
        with pytest.raises(Overloaded) as caught:
            await _put(queue)
        refusals.append(caught.value)
    assert store.asked == asked + 2  # the refused insert and the depth, once
    # Each says so as the store did, with a Retry-After from the depth it read:
    # 4 waiting for 2 workers of a second each.
    assert {str(r) for r in refusals} == {
        "the queue of this priority is full (4 workflows across replicas)"
    }
    assert {r.retry_after for r in refusals} == {2.0}
    assert await _put(queue, HIGH)  # another priority's queue is asked as before


async def test_after_the_moment_the_store_is_asked_again_and_admits_what_has_room():
    store = _Store(limit=1)
    queue = _queue(store, full_seconds=0.05)
    assert await _put(queue)
    with pytest.raises(Overloaded):
        await _put(queue)
    store.waiting[NORMAL] = 0  # a replica took the work that waited
    with pytest.raises(Overloaded):
        await _put(queue)  # within the moment: refused from what the store said
    await asyncio.sleep(0.06)
    assert await _put(queue)


async def test_the_moment_is_shorter_when_the_workers_would_run_what_waits_before_it_ends():
    # 4 waiting, 2 workers at 50 ms: the replica runs them in 0.1 s, so it refuses from
    # what it heard for a quarter of that, not the whole minute it was given.
    store = _Store(limit=4)
    queue = _queue(store, full_seconds=60, mean_run_seconds=0.05)
    for _ in range(4):
        assert await _put(queue)
    with pytest.raises(Overloaded):
        await _put(queue)
    store.waiting[NORMAL] = 0
    await asyncio.sleep(0.05)
    assert await _put(queue)
