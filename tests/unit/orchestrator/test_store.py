from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.store import MIGRATIONS, WorkflowStore


def _workflow(workflow_id="w1") -> pb.Workflow:
    workflow = pb.Workflow(
        workflow_id=workflow_id, type="classification", status=pb.WORKFLOW_STATUS_PENDING
    )
    workflow.created_at.GetCurrentTime()
    return workflow


async def test_a_stored_workflow_comes_back_as_it_was_updated(tmp_path):
    store = await WorkflowStore.open(f"sqlite:///{tmp_path}/s.db")
    await store.insert(_workflow())
    done = _workflow()
    done.status = pb.WORKFLOW_STATUS_SUCCEEDED
    done.result.classification.label = "finance"
    await store.update(done, "2026-01-01T00:00:00Z")
    assert await store.get("w1") == done
    assert await store.get("missing") is None
    await store.close()


async def test_migrations_apply_once_and_survive_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    store = await WorkflowStore.open(url)
    await store.insert(_workflow())
    await store.close()
    store = await WorkflowStore.open(url)
    async with store.db.execute("SELECT COUNT(*) FROM schema_migrations") as cursor:
        assert (await cursor.fetchone())[0] == len(MIGRATIONS)
    assert (await store.get("w1")).workflow_id == "w1"
    await store.close()
