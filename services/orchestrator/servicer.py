"""OrchestratorService: validates a workflow request, stores it, runs it, reports it."""

from __future__ import annotations

import uuid

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc
from services.common.deadlines import Deadline
from services.common.errors import InvalidInput, NotFound
from services.common.settings import Settings
from services.orchestrator.executor import Executor, new_workflow
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import validate_create


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(self, store: WorkflowStore, executor: Executor, settings: Settings):
        self.store = store
        self.executor = executor
        self.settings = settings

    async def CreateWorkflow(self, request, context):
        spec, outputs, budget = validate_create(request, self.settings)
        deadline = (
            Deadline.within(self.settings.classification_timeout_seconds)
            .earliest(budget)
            .earliest(context.time_remaining())
        )
        workflow = new_workflow(str(uuid.uuid4()), request, spec, outputs, deadline)
        await self.store.insert(workflow)
        workflow = await self.executor.run(workflow, request, deadline)
        return pb.CreateWorkflowResponse(workflow=workflow)

    async def GetWorkflow(self, request, context):
        return pb.GetWorkflowResponse(workflow=await self._find(request.workflow_id))

    async def _find(self, workflow_id: str) -> pb.Workflow:
        try:
            canonical = str(uuid.UUID(workflow_id))
        except ValueError:
            raise InvalidInput("workflow_id", "must be a workflow id (a UUID)") from None
        workflow = await self.store.get(canonical)
        if workflow is None:
            raise NotFound(f"no workflow {canonical}")
        return workflow
