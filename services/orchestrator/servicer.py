"""OrchestratorService: validates a request, hands it to the orchestrator, replies."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import grpc

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc
from services.common import advice
from services.common import caller as callers
from services.orchestrator import messages
from services.orchestrator.activity import ActivityTracker
from services.orchestrator.cache import ResultCache
from services.orchestrator.health import Health
from services.orchestrator.optimize import Snapshot, recommend
from services.orchestrator.orchestrator import Orchestrator
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.validation import validate_batch, validate_create
from services.orchestrator.workflows import WORKFLOWS


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(
        self,
        orchestrator: Orchestrator,
        cache: ResultCache,
        activity: ActivityTracker,
        *,
        health: Callable[[], Awaitable[list[Health]]],
        measure: Callable[[], Snapshot],
        settings: OrchestratorSettings,
    ):
        self.orchestrator = orchestrator
        self.cache = cache
        self.activity = activity
        self.health = health
        self.measure = measure
        self.settings = settings

    async def CreateWorkflow(
        self, request: pb.CreateWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateWorkflowResponse:
        plan = validate_create(request, self.settings)
        caller = callers.user_id()
        workflow = await self.orchestrator.create(request, plan, caller, context.time_remaining())
        self.activity.created(caller, workflow)
        return pb.CreateWorkflowResponse(workflow=workflow)

    async def GetWorkflow(
        self, request: pb.GetWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWorkflowResponse:
        workflow = await self.orchestrator.get(request.workflow_id, callers.reader())
        return pb.GetWorkflowResponse(workflow=workflow)

    async def CancelWorkflow(
        self, request: pb.CancelWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelWorkflowResponse:
        workflow = await self.orchestrator.cancel(request.workflow_id, callers.reader())
        return pb.CancelWorkflowResponse(workflow=workflow)

    async def ListWorkflowTypes(
        self, request: pb.ListWorkflowTypesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWorkflowTypesResponse:
        types = [messages.workflow_type(spec, self.settings) for spec in WORKFLOWS.values()]
        return pb.ListWorkflowTypesResponse(types=types)

    async def CreateBatch(
        self, request: pb.CreateBatchRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateBatchResponse:
        parallelism = validate_batch(request, self.settings)
        caller = callers.user_id()
        batch_id, items = await self.orchestrator.create_batch(request, parallelism, caller)
        for item in items:
            if item.workflow_id:
                kind = request.items[item.index].type
                self.activity.created(caller, pb.Workflow(workflow_id=item.workflow_id, type=kind))
        return pb.CreateBatchResponse(batch_id=batch_id, items=items)

    async def WatchWorkflow(
        self, request: pb.WatchWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchWorkflowResponse]:
        async for event in self.orchestrator.watch(request.workflow_id, callers.reader()):
            yield event

    async def GetServicesHealth(
        self, request: pb.GetServicesHealthRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetServicesHealthResponse:
        found = await self.health()
        return pb.GetServicesHealthResponse(services=[messages.service_health(h) for h in found])

    async def Optimize(
        self, request: pb.OrchestratorServiceOptimizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.OrchestratorServiceOptimizeResponse:
        callers.require_admin()
        return pb.OrchestratorServiceOptimizeResponse(
            recommendations=[advice.message(r) for r in recommend(self.measure())]
        )

    async def GetCacheStats(
        self, request: pb.GetCacheStatsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCacheStatsResponse:
        callers.require_admin()
        return messages.cache_stats(*self.cache.stats())

    async def InvalidateCache(
        self, request: pb.InvalidateCacheRequest, context: grpc.aio.ServicerContext
    ) -> pb.InvalidateCacheResponse:
        callers.require_admin()
        removed = await self.cache.invalidate(request.pattern)
        return pb.InvalidateCacheResponse(removed=removed)
