"""The queue replicas share in the store (PostgreSQL only): order, admission, and takers
that never take the same workflow."""

import asyncio
import time

import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.orchestrator.store import WorkflowStore


def _workflow(workflow_id: str, priority=pb.PRIORITY_NORMAL) -> pb.Workflow:
    workflow = pb.Workflow(
        workflow_id=workflow_id,
        type="classification",
        status=pb.WORKFLOW_STATUS_PENDING,
        priority=priority,
    )
    workflow.created_at.GetCurrentTime()
    return workflow


def _ms(seconds_from_now: float = 0) -> int:
    return int((time.time() + seconds_from_now) * 1000)


@pytest.fixture
async def store(postgres_url):
    db = await Database.open(postgres_url)
    yield await WorkflowStore.open(db)
    await db.close()


async def _put(store, workflow_id, priority=pb.PRIORITY_NORMAL, at=0, limit=100, key=""):
    return await store.enqueue(
        _workflow(workflow_id, priority),
        b"request",
        caller="alice",
        idempotency_key=key,
        queued_at=at or _ms(),
        limit=limit,
    )


async def test_work_is_taken_by_priority_then_oldest_first(store):
    await _put(store, "low", pb.PRIORITY_LOW, at=1)
    await _put(store, "normal-new", at=3)
    await _put(store, "normal-old", at=2)
    await _put(store, "high", pb.PRIORITY_HIGH, at=4)
    first = await store.take("a", _ms(5), 2)
    rest = await store.take("a", _ms(5), 10)
    assert [w.workflow_id for w, *_ in first] == ["high", "normal-old"]
    assert [w.workflow_id for w, *_ in rest] == ["normal-new", "low"]
    assert await store.take("a", _ms(5), 10) == []
    [(_, request, caller, queued_at)] = [row for row in rest if row[0].workflow_id == "low"]
    assert (request, caller, queued_at) == (b"request", "alice", 1)


async def test_a_full_queue_refuses_and_each_priority_has_its_own_bound(store):
    assert await _put(store, "one", limit=2) is True
    assert await _put(store, "two", limit=2) is True
    assert await _put(store, "three", limit=2) is None
    assert await _put(store, "high", pb.PRIORITY_HIGH, limit=2) is True
    assert await store.queued() == {pb.PRIORITY_NORMAL: 2, pb.PRIORITY_HIGH: 1}
    await store.take("a", _ms(5), 2)  # high first, then one normal: room for one more
    assert await _put(store, "three", limit=2) is True
    assert await store.get("three") is not None


async def test_a_repeated_idempotency_key_queues_nothing(store):
    assert await _put(store, "first", key="k") is True
    assert await _put(store, "second", key="k") is False
    assert await store.get("second") is None


async def test_takers_at_once_never_take_the_same_workflow(store, postgres_url):
    for n in range(60):
        await _put(store, f"w{n:02}", at=n + 1)
    others = [await Database.open(postgres_url) for _ in range(3)]
    try:
        stores = [WorkflowStore(db) for db in others]
        takes = await asyncio.gather(
            *(s.take(f"taker{i}", _ms(5), 7) for _ in range(4) for i, s in enumerate(stores))
        )
    finally:
        for db in others:
            await db.close()
    ids = [w.workflow_id for taken in takes for w, *_ in taken]
    assert len(ids) == len(set(ids)) == 60


async def test_queued_work_is_nobodys_orphan_and_a_cancel_takes_it_out(store):
    await _put(store, "waiting")
    assert await store.claim_orphans("b", "", _ms(10), _ms(15)) == []
    cancelled = _workflow("waiting")
    cancelled.status = pb.WORKFLOW_STATUS_CANCELLED
    assert await store.update(cancelled, "2026-01-01T00:00:00Z", owner=None)
    assert await store.queued() == {}
    assert await store.take("a", _ms(5), 10) == []


async def test_taken_work_is_leased_to_its_taker(store):
    await _put(store, "taken")
    await store.take("a", _ms(-1), 1)  # a taker that died at once: its lease lapses
    [(workflow, request, _, _)] = await store.claim_orphans("b", "", _ms(0), _ms(5))
    assert (workflow.workflow_id, request) == ("taken", b"request")
