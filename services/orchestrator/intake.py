"""Accepting a workflow request: idempotency, the result cache, admission to the queue, the
first write to the store; and, for a repeated idempotency key, the workflow first started
with it.

A request with an idempotency key is one workflow per caller and key, whichever replica
sees it first: the store's unique index decides, and the loser answers with the winner's
workflow. A cache hit is a finished workflow at once. Anything else takes a place in the
queue (or is refused, Overloaded, before anything is stored) and is handed to `Runs`; on
PostgreSQL async work goes to the queue replicas share instead (shared_queue.py), for
whichever has an idle worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.common.errors import Unavailable
from services.orchestrator import record
from services.orchestrator.cache import ResultCache
from services.orchestrator.cache_keys import Keys
from services.orchestrator.contexts import Contexts
from services.orchestrator.executor import Run
from services.orchestrator.recovery import Leases
from services.orchestrator.runs import Runs
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import Plan

WATCH_POLL_SECONDS = 1.0  # a waiter re-reads the store this often (another replica's work)


class Intake:
    def __init__(
        self,
        store: WorkflowStore,
        cache: ResultCache,
        keys: Keys,
        scheduler: Scheduler,
        runs: Runs,
        leases: Leases,
        contexts: Contexts,
        *,
        timeout,  # WorkflowSpec -> its default budget in seconds
        cache_ttl,  # WorkflowSpec -> seconds its results are cached
        async_timeout: float,  # the least budget of work that may queue and be taken over
        queue=None,  # SharedQueue: where async work waits, when replicas share one
    ):
        self.store = store
        self.cache = cache
        self.keys = keys
        self.scheduler = scheduler
        self.runs = runs
        self.leases = leases
        self.contexts = contexts
        self.timeout = timeout
        self.cache_ttl = cache_ttl
        self.async_timeout = async_timeout
        self.queue = queue
        self._entering = 0  # requests on their way in (see settled)
        self._none_entering = asyncio.Event()
        self._none_entering.set()

    async def settled(self, timeout: float) -> None:
        """Waits (at most `timeout`) for the requests on their way in to be queued."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._none_entering.wait()

    async def accept(
        self, request, plan: Plan, caller: str, rpc_remaining, feed=True
    ) -> tuple[Run | None, pb.Workflow]:
        """(run, workflow): run is None when the workflow is already finished (cache hit)
        or was started before (idempotency key); a batch's items are not fed yet."""
        self._entering += 1
        self._none_entering.clear()
        try:
            return await self._accept(request, plan, caller, rpc_remaining, feed)
        finally:
            self._entering -= 1
            if not self._entering:
                self._none_entering.set()

    async def _accept(self, request, plan: Plan, caller: str, rpc_remaining, feed: bool):
        if request.idempotency_key:
            first = await self.store.find(caller, request.idempotency_key)
            if first is not None:
                return None, await self.first(first, request.wait, rpc_remaining)
        budget = self.timeout(plan.spec)
        if not request.wait:  # it may queue, and be taken over: see CreateWorkflowRequest
            budget = max(budget, self.async_timeout)
        deadline = Deadline.within(budget).earliest(plan.budget)
        if request.wait:
            deadline = deadline.earliest(rpc_remaining)
        workflow = record.new(str(uuid.uuid4()), request, plan, deadline)
        context = None
        if not request.HasField("use_cache") or request.use_cache:
            context = await self.contexts.of(plan.spec, request, caller, deadline)
        key = self.keys.of(workflow, request, caller, context=context)
        if key is not None and (value := await self.cache.get(key)) is not None:
            record.fill_from_cache(workflow, value)
            if not request.idempotency_key:  # conflicts with nothing: written in a group
                await self.store.insert_finished(workflow, caller)
            elif not await self._insert(workflow, request, caller, keep_request=False):
                return None, await self._first_with_key(caller, request, rpc_remaining)
            return None, workflow
        if self.queue is not None and not request.wait and feed:
            # Async work waits where any replica can take it (a batch's items stay
            # here: their batch's parallelism is this replica's to keep).
            if not await self.queue.put(workflow, request, caller):
                return None, await self._first_with_key(caller, request, rpc_remaining)
            return None, workflow
        ticket = self.scheduler.reserve(workflow.priority, request.ByteSize())
        stored = not request.wait or bool(request.idempotency_key)
        inserted = False
        try:
            inserted = not stored or await self._insert(
                workflow, request, caller, keep_request=True
            )
        finally:
            if not inserted:
                self.scheduler.release(ticket)
        if not inserted:
            return None, await self._first_with_key(caller, request, rpc_remaining)
        accepted = record.copy(workflow)
        ttl = self.cache_ttl(plan.spec)
        run = Run(
            workflow, request, caller, deadline, key, ttl, stored, ticket=ticket, context=context
        )
        self.runs.add(run, feed)
        return run, accepted

    async def _insert(self, workflow, request, caller: str, keep_request: bool) -> bool:
        return await self.store.insert(
            workflow,
            caller=caller,
            idempotency_key=request.idempotency_key,
            request=request.SerializeToString() if keep_request else None,
            owner=self.leases.owner,
            lease_until=self.leases.until(),
        )

    async def _first_with_key(self, caller: str, request, rpc_remaining) -> pb.Workflow:
        """Another request with the same key was stored first, a moment ago."""
        first = await self.store.find(caller, request.idempotency_key)
        if first is None:  # the row that won cannot be gone: workflows are never deleted
            raise Unavailable("the workflow first started with this key is not readable now")
        return await self.first(first, request.wait, rpc_remaining)

    async def first(self, workflow: pb.Workflow, wait: bool, rpc_remaining) -> pb.Workflow:
        """The workflow first started with an idempotency key; a waiting caller waits for
        its end (as long as its own deadline allows)."""
        if not wait or record.is_final(workflow.status):
            return workflow
        limit = Deadline.within(3600).earliest(rpc_remaining)
        # Run by another replica: its changes come as events (see notices.py), and a
        # poll stands in when the store sends none (SQLite).
        events = self.runs.events.subscribe(workflow.workflow_id)
        try:
            while not record.is_final(workflow.status) and not limit.expired:
                run = self.runs.active.get(workflow.workflow_id)
                if run is not None:
                    try:
                        async with asyncio.timeout(limit.remaining()):
                            ended = await asyncio.shield(run.done)
                    except TimeoutError:
                        break
                    if run.error is not None and not record.is_final(ended.status):
                        raise run.error  # as its first caller hears it
                    return ended
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(WATCH_POLL_SECONDS, limit.remaining())):
                        await events.get()
                workflow = await self.runs.read(workflow.workflow_id)
        finally:
            self.runs.events.unsubscribe(workflow.workflow_id, events)
        return workflow
