"""OrchestratorService: validates a request, hands it to the orchestrator, replies."""

from __future__ import annotations

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc
from services.common import caller as callers
from services.common.settings import Settings
from services.orchestrator import messages
from services.orchestrator.health import check_all
from services.orchestrator.optimize import measure, recommend
from services.orchestrator.orchestrator import Orchestrator
from services.orchestrator.validation import validate_create
from services.orchestrator.workflows import WORKFLOWS


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(self, orchestrator: Orchestrator, settings: Settings):
        self.orchestrator = orchestrator
        self.settings = settings

    async def CreateWorkflow(self, request, context):
        plan = validate_create(request, self.settings)
        caller = callers.user_id(default="anonymous")
        workflow = await self.orchestrator.create(request, plan, caller, context.time_remaining())
        return pb.CreateWorkflowResponse(workflow=workflow)

    async def GetWorkflow(self, request, context):
        return pb.GetWorkflowResponse(workflow=await self.orchestrator.get(request.workflow_id))

    async def CancelWorkflow(self, request, context):
        workflow = await self.orchestrator.cancel(request.workflow_id)
        return pb.CancelWorkflowResponse(workflow=workflow)

    async def ListWorkflowTypes(self, request, context):
        types = [messages.workflow_type(spec, self.settings) for spec in WORKFLOWS.values()]
        return pb.ListWorkflowTypesResponse(types=types)

    async def CreateBatch(self, request, context):
        caller = callers.user_id(default="anonymous")
        batch_id, items = await self.orchestrator.create_batch(request, caller)
        return pb.CreateBatchResponse(batch_id=batch_id, items=items)

    async def WatchWorkflow(self, request, context):
        async for event in self.orchestrator.watch(request.workflow_id):
            yield event

    async def GetServicesHealth(self, request, context):
        found = await check_all(
            self.orchestrator.addrs,
            self.orchestrator.executor.breakers,
            self.orchestrator.cache,
            self.settings.redis_url,
        )
        return pb.GetServicesHealthResponse(services=[messages.service_health(h) for h in found])

    async def Optimize(self, request, context):
        advice = recommend(measure(self.orchestrator))
        return pb.OrchestratorServiceOptimizeResponse(
            recommendations=[messages.recommendation(a) for a in advice]
        )

    async def GetCacheStats(self, request, context):
        callers.require_admin(self.settings.admin_token)
        return messages.cache_stats(*self.orchestrator.cache.stats())

    async def InvalidateCache(self, request, context):
        callers.require_admin(self.settings.admin_token)
        removed = await self.orchestrator.cache.invalidate(request.pattern)
        return pb.InvalidateCacheResponse(removed=removed)
