from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.orchestrator.store import WorkflowStore


def _workflow(workflow_id) -> pb.Workflow:
    workflow = pb.Workflow(
        workflow_id=workflow_id, type="classification", status=pb.WORKFLOW_STATUS_PENDING
    )
    workflow.created_at.GetCurrentTime()
    return workflow


async def test_a_stored_workflow_comes_back_as_it_was_updated(database_url, request):
    db = await Database.open(database_url)
    store = await WorkflowStore.open(db)
    workflow_id = request.node.name
    await store.insert(_workflow(workflow_id))
    done = _workflow(workflow_id)
    done.status = pb.WORKFLOW_STATUS_SUCCEEDED
    done.result.classification.label = "finance"
    await store.update(done, "2026-01-01T00:00:00Z")
    assert await store.get(workflow_id) == done
    assert await store.get("missing") is None
    await db.close()
