import asyncio
import time

import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.common.errors import InvalidInput, Unavailable
from services.orchestrator.store import WorkflowStore


def _workflow(workflow_id, status=pb.WORKFLOW_STATUS_PENDING) -> pb.Workflow:
    workflow = pb.Workflow(workflow_id=workflow_id, type="classification", status=status)
    workflow.created_at.GetCurrentTime()
    return workflow


def _ms(seconds_from_now: float) -> int:
    return int((time.time() + seconds_from_now) * 1000)


def _mine(claimed, *workflow_ids):
    """The claimed rows of this test (the store's schema is shared by the session)."""
    return [row for row in claimed if row[0].workflow_id in workflow_ids]


@pytest.fixture
async def store(database_url):
    db = await Database.open(database_url)
    yield await WorkflowStore.open(db)
    await db.close()


async def test_a_stored_workflow_comes_back_as_it_was_updated(store, request):
    workflow_id = request.node.name
    await store.insert(_workflow(workflow_id), owner="me")
    done = _workflow(workflow_id, pb.WORKFLOW_STATUS_SUCCEEDED)
    done.result.classification.label = "finance"
    assert await store.update(done, "2026-01-01T00:00:00Z", "me")
    assert await store.get(workflow_id) == done
    assert await store.get("missing") is None


async def test_a_workflow_is_read_by_its_caller_only_when_one_is_named(store, request):
    workflow_id = request.node.name
    await store.insert(_workflow(workflow_id), caller="alice", owner="me")
    assert (await store.get(workflow_id, "alice")).workflow_id == workflow_id
    assert await store.get(workflow_id, "bob") is None
    assert (await store.get(workflow_id)).workflow_id == workflow_id
    [(_, _, caller, _)] = _mine(await store.claim_orphans("new", "", _ms(10), _ms(15)), workflow_id)
    assert caller == "alice"


async def test_only_the_lease_holder_writes_a_running_workflow(store, request):
    workflow_id = request.node.name
    await store.insert(_workflow(workflow_id), owner="old", lease_until=_ms(-1))
    [(claimed, _, _, _)] = _mine(await store.claim_orphans("new", "", _ms(0), _ms(5)), workflow_id)
    assert claimed.workflow_id == workflow_id
    stale = _workflow(workflow_id, pb.WORKFLOW_STATUS_SUCCEEDED)
    assert not await store.update(stale, "2026-01-01T00:00:00Z", "old")
    assert (await store.get(workflow_id)).status == pb.WORKFLOW_STATUS_PENDING
    assert await store.update(stale, "2026-01-01T00:00:00Z", "new")


async def test_renew_extends_only_what_runs_and_names_what_is_no_longer_held(store, request):
    mine, idle, taken = (f"{request.node.name}-{n}" for n in ("mine", "idle", "taken"))
    for workflow_id in (mine, idle, taken):
        await store.insert(_workflow(workflow_id), owner="me", lease_until=_ms(-1))
    await store.claim_orphans("other", "", _ms(0), _ms(5))  # takes all three back...
    for workflow_id in (mine, idle):  # ...and the test hands two of them back to "me"
        await store.db.execute(
            "UPDATE workflows SET owner = $1, lease_until = $2 WHERE workflow_id = $3",
            "me",
            _ms(-1),
            workflow_id,
        )
    lost = await store.renew("me", [mine, taken], _ms(5))
    assert lost == {taken}
    # `idle` is not renewed: nothing runs it here, so its lease lapses and another takes it.
    claimed = await store.claim_orphans("third", "", _ms(0), _ms(5))
    assert [w.workflow_id for w, _, _, _ in _mine(claimed, mine, idle, taken)] == [idle]


async def test_a_restarted_node_claims_what_its_earlier_life_left_at_once(store, request):
    workflow_id = request.node.name
    running = _workflow(workflow_id, pb.WORKFLOW_STATUS_RUNNING)
    node, other = f"{workflow_id}-pod-a", f"{workflow_id}-pod-b"
    await store.insert(running, owner=f"{node}/life1", lease_until=_ms(60))
    await store.insert(_workflow(f"{workflow_id}-b"), owner=f"{other}/life1", lease_until=_ms(60))
    claimed = await store.claim_orphans(f"{node}/life2", node, _ms(0), _ms(5))
    mine = _mine(claimed, workflow_id, f"{workflow_id}-b")
    assert [(w.workflow_id, n) for w, _, _, n in mine] == [(workflow_id, 1)]
    # A RUNNING workflow claimed again counts one more interruption; its own node's later
    # lives see the count grow.
    claimed = await store.claim_orphans(f"{node}/life3", node, _ms(0), _ms(5))
    assert [n for _, _, _, n in _mine(claimed, workflow_id)] == [2]


async def test_a_nul_in_a_stored_text_is_the_callers_mistake(store):
    workflow = _workflow("nul-key")
    try:
        await store.insert(workflow, caller="c", idempotency_key="a\x00b")
    except InvalidInput:
        assert store.db.dialect == "postgresql"
    else:
        assert store.db.dialect == "sqlite"  # SQLite keeps it as it is


async def test_a_database_that_went_away_is_unavailable(postgres_url):
    db = await Database.open(postgres_url)
    store = await WorkflowStore.open(db)
    await db.close()
    with pytest.raises(Unavailable):
        await store.get("x")


async def test_prune_deletes_finished_workflows_past_the_retention_only(store, request):
    base = request.node.name
    old_done = _workflow(f"{base}-old-done", pb.WORKFLOW_STATUS_SUCCEEDED)
    old_running = _workflow(f"{base}-old-running", pb.WORKFLOW_STATUS_RUNNING)
    new_done = _workflow(f"{base}-new-done", pb.WORKFLOW_STATUS_FAILED)
    for workflow in (old_done, old_running, new_done):
        await store.insert(workflow, owner="me")
    await store.update(old_running, "2020-01-01T00:00:00Z", None)
    await store.db.execute(
        "UPDATE workflows SET updated_at = $1 WHERE workflow_id = $2",
        "2020-01-01T00:00:00Z",
        old_done.workflow_id,
    )
    removed = await store.prune("2021-01-01T00:00:00Z")
    assert removed >= 1
    assert await store.get(old_done.workflow_id) is None
    assert await store.get(old_running.workflow_id) is not None  # unfinished: never
    assert await store.get(new_done.workflow_id) is not None


class _Counted:
    """The store's database, counting the statements that go to it."""

    def __init__(self, db):
        self._db = db
        self.statements = 0

    def __getattr__(self, name):
        return getattr(self._db, name)

    async def execute(self, sql, *args):
        self.statements += 1
        return await self._db.execute(sql, *args)


async def test_finished_workflows_ending_together_are_written_together(store, request):
    base = request.node.name
    store.db = counted = _Counted(store.db)
    finished = [_workflow(f"{base}-{i}", pb.WORKFLOW_STATUS_SUCCEEDED) for i in range(40)]
    await asyncio.gather(*(store.insert_finished(w, f"caller-{i}") for i, w in enumerate(finished)))
    for i, workflow in enumerate(finished):
        assert await store.get(workflow.workflow_id, f"caller-{i}") == workflow
    # The first goes alone (nothing waits for company); the rest came while it was written.
    assert counted.statements <= 3


async def test_a_row_refused_in_a_group_write_costs_the_others_nothing(store, request):
    base = request.node.name
    taken = _workflow(f"{base}-taken", pb.WORKFLOW_STATUS_SUCCEEDED)
    await store.insert(taken, caller="c")
    others = [_workflow(f"{base}-{i}", pb.WORKFLOW_STATUS_SUCCEEDED) for i in range(5)]
    outcomes = await asyncio.gather(
        *(store.insert_finished(w, "c") for w in [others[0], taken, *others[1:]]),
        return_exceptions=True,
    )
    assert outcomes[0] is None and outcomes[2:] == [None] * 4
    assert isinstance(outcomes[1], Exception)  # the same id twice
    for workflow in others:
        assert await store.get(workflow.workflow_id) == workflow


async def test_a_finished_workflow_is_written_even_if_its_waiter_goes_away(store, request):
    workflow = _workflow(request.node.name, pb.WORKFLOW_STATUS_SUCCEEDED)
    waiter = asyncio.create_task(store.insert_finished(workflow, "c"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    for _ in range(100):
        if await store.get(workflow.workflow_id) is not None:
            break
        await asyncio.sleep(0.01)
    assert await store.get(workflow.workflow_id) == workflow
