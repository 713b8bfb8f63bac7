"""The orchestrator as one of several replicas on one PostgreSQL store: async work waits in
a queue they share, run by whichever has an idle worker, and bounded across them."""

from __future__ import annotations

import asyncio
import contextlib
import time

import grpc
import pytest
from prometheus_client import REGISTRY

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database

from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    finished,
    request,
    start_fakes,
    start_orchestrator,
)


async def _replicas(stack, tmp_path, postgres_url, fake, count=2, **changes):
    """`count` orchestrators in this process on one PostgreSQL store; their stubs."""
    addr = await start_fakes(stack, fake)
    stubs = []
    for n in range(count):
        settings = fake_settings(
            tmp_path,
            addr,
            database_url=postgres_url,
            orchestrator_node=f"replica{n}",
            orchestrator_replicas=count,
            **changes,
        )
        _, stub, _ = await start_orchestrator(stack, settings)
        stubs.append(stub)
    return stubs


async def _until(condition, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


async def _owners_of(postgres_url, *workflow_ids: str) -> dict[str, tuple[str, int]]:
    """workflow id -> (node of the replica that holds or held it, status)."""
    db = await Database.open(postgres_url)
    try:
        rows = await db.fetchall("SELECT workflow_id, owner, status FROM workflows")
    finally:
        await db.close()
    found = {wid: (owner.partition("/")[0], status) for wid, owner, status in rows}
    return {wid: found[wid] for wid in workflow_ids}


async def _owners(postgres_url) -> list[str]:
    """The node of the replica that last held each workflow."""
    db = await Database.open(postgres_url)
    try:
        rows = await db.fetchall("SELECT owner FROM workflows")
    finally:
        await db.close()
    return [owner.partition("/")[0] for (owner,) in rows]


async def test_async_work_accepted_by_one_replica_runs_wherever_a_worker_is_idle(
    tmp_path, postgres_url
):
    fake = FakeCapabilities(delay=0.3)
    async with contextlib.AsyncExitStack() as stack:
        first, _ = await _replicas(stack, tmp_path, postgres_url, fake, orchestrator_workers=2)
        accepted = [
            (await first.CreateWorkflow(request(wait=False, use_cache=False))).workflow
            for _ in range(8)
        ]
        done = [await finished(first, w.workflow_id) for w in accepted]
        owners = await _owners(postgres_url)
    assert all(w.status == pb.WORKFLOW_STATUS_PENDING for w in accepted)
    assert all(w.status == pb.WORKFLOW_STATUS_SUCCEEDED for w in done)
    assert sorted(set(owners)) == ["replica0", "replica1"]
    assert fake.calls["Classify"] == 8  # each ran once
    assert fake.most_active["Classify"] > 2  # more at once than the first replica's workers


async def test_the_queue_is_bounded_across_replicas(tmp_path, postgres_url):
    fake = FakeCapabilities(delay=2.0)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(
            stack, tmp_path, postgres_url, fake, orchestrator_workers=1, queue_size_normal=2
        )
        for stub in stubs:  # one running on each replica...
            await stub.CreateWorkflow(request(wait=False, use_cache=False))
        await _until(lambda: fake.active["Classify"] == 2)
        for stub in stubs:  # ...and two waiting, one accepted by each
            await stub.CreateWorkflow(request(wait=False, use_cache=False))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs[0].CreateWorkflow(request(wait=False, use_cache=False))
        high = await stubs[1].CreateWorkflow(
            request(wait=False, use_cache=False, priority=pb.PRIORITY_HIGH)
        )
        depth = REGISTRY.get_sample_value(
            "aiorch_orchestrator_shared_queue_depth", {"priority": "normal"}
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "across replicas" in caught.value.details()
    assert int(dict(caught.value.trailing_metadata())["retry-after"]) >= 1
    assert high.workflow.status == pb.WORKFLOW_STATUS_PENDING  # its own queue has room
    assert depth == 2  # as the refusal read it


async def _running_where(postgres_url, stubs, fake, **create) -> tuple[str, object, object]:
    """Starts an async workflow; (its id, the stub of the replica running it, another)."""
    accepted = (
        await stubs[0].CreateWorkflow(request(wait=False, use_cache=False, **create))
    ).workflow
    await _until(lambda: fake.active["Classify"] == 1)
    db = await Database.open(postgres_url)
    try:
        (owner,) = await db.fetchone(
            "SELECT owner FROM workflows WHERE workflow_id = $1", accepted.workflow_id
        )
    finally:
        await db.close()
    runner = int(owner.partition("/")[0].removeprefix("replica"))
    return accepted.workflow_id, stubs[runner], stubs[1 - runner]


async def test_a_cancel_through_another_replica_stops_the_calls_within_a_second(
    tmp_path, postgres_url
):
    fake = FakeCapabilities(delay=30)
    async with contextlib.AsyncExitStack() as stack:
        # Leases renewed every 7.5 s: only the notification can stop it sooner.
        stubs = await _replicas(stack, tmp_path, postgres_url, fake, workflow_lease_seconds=30)
        workflow_id, runner, other = await _running_where(postgres_url, stubs, fake)
        started = time.perf_counter()
        cancelled = await other.CancelWorkflow(pb.CancelWorkflowRequest(workflow_id=workflow_id))
        await _until(lambda: fake.cancelled["Classify"] == 1, timeout=5)
        took = time.perf_counter() - started
        seen = await finished(runner, workflow_id)
    assert cancelled.workflow.status == pb.WORKFLOW_STATUS_CANCELLED
    assert seen.status == pb.WORKFLOW_STATUS_CANCELLED
    assert took < 1.0
    assert fake.calls["Classify"] == 1


async def test_a_watch_on_another_replica_hears_the_end_at_once(
    tmp_path, postgres_url, monkeypatch
):
    # No poll: only the store's notification can bring the end to the watcher.
    monkeypatch.setattr("services.orchestrator.orchestrator.WATCH_POLL_SECONDS", 60.0)
    fake = FakeCapabilities(delay=0.5)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres_url, fake)
        workflow_id, _, other = await _running_where(postgres_url, stubs, fake)
        events = []
        watch = other.WatchWorkflow(pb.WatchWorkflowRequest(workflow_id=workflow_id), timeout=10)
        async for event in watch:
            events.append((time.time(), event))
    heard_at, last = events[-1]
    assert last.workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    lag = heard_at - last.workflow.finished_at.ToNanoseconds() / 1e9
    assert lag < 0.3


async def test_identical_requests_on_different_replicas_compute_once(
    tmp_path, postgres_url, redis_prefix
):
    fake = FakeCapabilities(delay=0.5)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres_url, fake, **redis_prefix)
        replies = await asyncio.gather(
            *(stub.CreateWorkflow(request(), timeout=10) for stub in stubs for _ in range(3))
        )
    workflows = [reply.workflow for reply in replies]
    assert all(w.status == pb.WORKFLOW_STATUS_SUCCEEDED for w in workflows)
    assert {w.result.classification.label for w in workflows} == {"finance"}
    assert fake.calls["Classify"] == 1
    assert sum(w.cached for w in workflows) == 5  # all but the one that computed it


async def test_work_a_stopping_replica_hands_back_is_taken_by_another_at_once(
    tmp_path, postgres_url
):
    fake = FakeCapabilities(delay=1.0)
    async with contextlib.AsyncExitStack() as stack:
        addr = await start_fakes(stack, fake)
        # Leases claimed every 7.5 s: only the shared queue can move the work sooner.
        settings = fake_settings(
            tmp_path, addr, database_url=postgres_url, workflow_lease_seconds=30
        )
        stopping = contextlib.AsyncExitStack()
        _, first, _ = await start_orchestrator(stopping, settings, orchestrator_node="a")
        accepted = (await first.CreateWorkflow(request(wait=False, use_cache=False))).workflow
        await _until(lambda: fake.active["Classify"] == 1)
        _, second, _ = await start_orchestrator(stack, settings, orchestrator_node="b")
        await stopping.aclose()
        stopped = time.perf_counter()
        await _until(lambda: fake.calls["Classify"] == 2, timeout=5)
        taken_after = time.perf_counter() - stopped
        done = await finished(second, accepted.workflow_id)
        [owner] = await _owners(postgres_url)
    assert taken_after < 1.0
    assert done.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert owner == "b"


async def test_a_repeated_key_on_another_replica_answers_as_soon_as_the_first_ends(
    tmp_path, postgres_url, monkeypatch
):
    # No poll: only the store's notification can tell the waiting replica of the end.
    monkeypatch.setattr("services.orchestrator.intake.WATCH_POLL_SECONDS", 60.0)
    fake = FakeCapabilities(delay=0.5)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres_url, fake)
        key = request(idempotency_key="once", use_cache=False)
        first = asyncio.ensure_future(stubs[0].CreateWorkflow(key, timeout=10))
        await _until(lambda: fake.active["Classify"] == 1)
        again = (await stubs[1].CreateWorkflow(key, timeout=10)).workflow
        answered = time.time()
        first = (await first).workflow
    assert again.workflow_id == first.workflow_id
    assert again.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert answered - again.finished_at.ToNanoseconds() / 1e9 < 0.3
    assert fake.calls["Classify"] == 1


async def test_a_watch_on_another_replica_streams_the_steps_as_they_change(
    tmp_path, postgres_url, monkeypatch
):
    monkeypatch.setattr("services.orchestrator.orchestrator.WATCH_POLL_SECONDS", 60.0)
    fake = FakeCapabilities(delay=0.1)
    fake.delay["Analyze"] = 1.0
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres_url, fake, orchestrator_workers=1)
        for stub in stubs:  # each replica's one worker busy for a while...
            await stub.CreateWorkflow(
                request("Ann: we ship on Monday.", wait=False, type="meeting_intelligence")
            )
        await _until(lambda: fake.active["Analyze"] == 2)
        # ...so this one waits in the queue while both replicas watch it.
        create = request(wait=False, use_cache=False, expected_outputs=["label", "embedding"])
        accepted = (await stubs[0].CreateWorkflow(create)).workflow
        ask = pb.WatchWorkflowRequest(workflow_id=accepted.workflow_id)

        async def watch(stub):
            return [event async for event in stub.WatchWorkflow(ask, timeout=10)]

        seen = await asyncio.gather(*(watch(stub) for stub in stubs))
        [(runner, _)] = (await _owners_of(postgres_url, accepted.workflow_id)).values()
    remote = seen[1 - int(runner.removeprefix("replica"))]
    steps = [(e.step, e.step_state) for e in remote if e.step]
    for step in ("classify", "embed"):
        running = steps.index((step, pb.STEP_STATE_RUNNING))
        assert steps.index((step, pb.STEP_STATE_SUCCEEDED)) > running, steps
    assert remote[-1].workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED


async def test_a_watch_on_another_replica_tells_every_step_end_even_if_its_notice_is_lost(
    tmp_path, postgres_url, monkeypatch
):
    # Step notices that ended a step never arrive (late, or lost with a connection): the
    # record the end brings still tells each step's last state, before the end.
    from services.orchestrator.notices import Notices

    heard = Notices._step

    def deaf_to_ends(self, payload: str) -> None:
        if not payload.endswith("STEP_STATE_SUCCEEDED"):
            heard(self, payload)

    monkeypatch.setattr(Notices, "_step", deaf_to_ends)
    fake = FakeCapabilities(delay=0.3)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres_url, fake)
        workflow_id, _, other = await _running_where(postgres_url, stubs, fake)
        ask = pb.WatchWorkflowRequest(workflow_id=workflow_id)
        events = [event async for event in other.WatchWorkflow(ask, timeout=10)]
    steps = [(e.step, e.step_state) for e in events if e.step]
    assert ("classify", pb.STEP_STATE_SUCCEEDED) in steps
    assert events[-1].workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert steps.index(("classify", pb.STEP_STATE_SUCCEEDED)) < len(events) - 1
