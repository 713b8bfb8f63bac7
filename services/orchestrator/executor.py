"""Runs a workflow's steps against the capability services and records each outcome.

The steps a request needs run in parallel. Every call's timeout is what the workflow's
deadline has left, less a margin for our own reply; retries of transient failures happen
inside the channel (service config). A service whose circuit breaker is open is not
called: its step fails fast if required and is skipped if optional (the workflow is then
PARTIAL and says why). A service that is restarting is waited for within the deadline
(the channel's waitForReady); one out of reach for longer fails its steps fast, and a
breaker that opened before the service came back starts afresh. Cancelling the task that
runs a workflow cancels its in-flight calls with it.
"""

from __future__ import annotations

import asyncio
import logging
import time

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import status_pb2

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.channels import Link
from services.common.deadlines import Deadline
from services.common.errors import Unavailable
from services.common.interceptors import ATTEMPT
from services.common.settings import Settings
from services.orchestrator import calls
from services.orchestrator.breaker import CircuitBreaker
from services.orchestrator.cache import ResultCache
from services.orchestrator.events import EventHub, is_final
from services.orchestrator.stats import CallStats
from services.orchestrator.store import WorkflowStore

log = logging.getLogger("aiorch.executor")

# Codes that say the service is in trouble; the others say the request was (a caller's
# mistake, a part not built) and count as the service answering. UNAVAILABLE is not one:
# a service out of reach is the Link's business (it is waited for, then failed fast), and
# a reachable service answers it when something it depends on is out of reach, which
# opening this service's breaker would not mend.
_TROUBLE = frozenset(
    {
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
    }
)
_CODE = {code: code.value[0] for code in grpc.StatusCode}


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


def _status(code: grpc.StatusCode, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=_CODE[code], message=message)


def asked(step: pb.Step) -> bool:
    """Whether the request needed this step (a step nobody asked for is SKIPPED, no error)."""
    return step.state != pb.STEP_STATE_SKIPPED or step.HasField("error")


class Executor:
    def __init__(
        self,
        store: WorkflowStore,
        stubs: dict[str, object],
        links: dict[str, Link],
        breakers: dict[str, CircuitBreaker],
        cache: ResultCache,
        events: EventHub,
        stats: CallStats,
        settings: Settings,
        owner: str,
    ):
        self.owner = owner  # the lease holder every write of ours names (recovery.py)
        self.store = store
        self.stubs = stubs
        self.links = links
        self.breakers = breakers
        self.cache = cache
        self.events = events
        self.stats = stats
        self.settings = settings
        self.margin = settings.deadline_margin_seconds
        # Set while the orchestrator stops: a workflow cancelled then goes back to PENDING
        # (to be resumed by the next orchestrator) instead of ending CANCELLED.
        self.stopping = False

    async def run(
        self,
        workflow: pb.Workflow,
        request: pb.CreateWorkflowRequest,
        deadline: Deadline,
        key: str | None = None,
        ttl: float = 0.0,
        stored: bool = True,
    ) -> pb.Workflow:
        """Runs `workflow` to its end; with a cache `key`, shares the result of an
        identical request that finished or is running, and caches its own success.
        A workflow not `stored` yet is stored once, when it ends."""
        workflow.status = pb.WORKFLOW_STATUS_RUNNING
        workflow.started_at.CopyFrom(now())
        if not await self.persist(workflow, stored):
            raise LeaseLost(workflow.workflow_id)
        self.events.publish(workflow)
        try:
            if key is None or not await self._shared(workflow, key, deadline):
                await self._compute(workflow, request, deadline, key, ttl)
        except asyncio.CancelledError:
            # Cancelled by CancelWorkflow, by a sync caller that went away, or by a stop:
            # record it rather than leave the workflow RUNNING.
            (requeue if self.stopping else cancel)(workflow)
            await asyncio.shield(self.persist(workflow, stored))
            self.events.publish(workflow)
            raise
        if not await self.persist(workflow, stored):
            raise LeaseLost(workflow.workflow_id)
        self.events.publish(workflow)
        return workflow

    async def _compute(self, workflow, request, deadline, key, ttl) -> None:
        if key is None:
            await self._steps(workflow, request, deadline)
            conclude(workflow)
            return
        with self.cache.lead(key) as shared:
            await self._steps(workflow, request, deadline)
            conclude(workflow)
            if workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED:
                value = workflow.result.SerializeToString()
                shared.set_result(value)
                await self.cache.put(key, value, ttl)

    async def _shared(self, workflow: pb.Workflow, key: str, deadline: Deadline) -> bool:
        """Fills `workflow` from the cache or from an identical request in flight; False
        when there is neither (or the one in flight did not succeed)."""
        value = await self.cache.get(key, count=False)
        if value is None and (flight := self.cache.flight(key)) is not None:
            try:
                value = await asyncio.wait_for(asyncio.shield(flight), deadline.remaining())
            except TimeoutError:
                for step in filter(asked, workflow.steps):
                    step.state = pb.STEP_STATE_FAILED
                    step.error.CopyFrom(
                        _status(
                            grpc.StatusCode.DEADLINE_EXCEEDED,
                            "the deadline passed while an identical request computed this",
                        )
                    )
                conclude(workflow)
                return True
        if value is None:
            return False
        fill_from_cache(workflow, value)
        return True

    async def _steps(self, workflow, request, deadline: Deadline) -> None:
        async with asyncio.TaskGroup() as group:
            for step in workflow.steps:
                if step.state == pb.STEP_STATE_PENDING:
                    group.create_task(self._run_step(step, workflow, request, deadline))

    def _refusal(self, service: str) -> str | None:
        """Why a call to `service` must not go out now, if it must not."""
        breaker = self.breakers[service]
        breaker.reconnected(self.links[service].ready_at)
        try:
            self.links[service].check()
        except Unavailable as error:
            return str(error)
        if not breaker.allow():
            return (
                f"{service} is failing: its circuit breaker is open "
                f"(next try in {breaker.retry_in():.1f} s)"
            )
        return None

    async def _run_step(self, step, workflow, request, deadline: Deadline) -> None:
        breaker = self.breakers[step.service]
        if (refusal := self._refusal(step.service)) is not None:
            step.state = pb.STEP_STATE_FAILED if step.required else pb.STEP_STATE_SKIPPED
            step.error.CopyFrom(_status(grpc.StatusCode.UNAVAILABLE, refusal))
            self.events.publish(workflow, step)
            return
        step.state = pb.STEP_STATE_RUNNING
        step.started_at.CopyFrom(now())
        self.events.publish(workflow, step)
        timeout = deadline.remaining(self.margin)
        started = time.perf_counter()
        try:
            if timeout <= 0:
                breaker.abandoned()
                raise _DeadlinePassed
            call = getattr(self.stubs[step.service], step.rpc)(
                calls.BUILD[step.rpc](request, workflow, step, self.settings), timeout=timeout
            )
            reply = await self.links[step.service].call(call)
            step.attempts += _attempts(await call.trailing_metadata())
            breaker.succeeded()
            self.stats.record(step.service, time.perf_counter() - started, failed=False)
            getattr(workflow.result, calls.RESULT[step.rpc]).CopyFrom(reply)
            workflow.usage.input_tokens += reply.usage.input_tokens
            workflow.usage.output_tokens += reply.usage.output_tokens
            workflow.usage.cost_usd += reply.usage.cost_usd
            step.state = pb.STEP_STATE_SUCCEEDED
        except grpc.aio.AioRpcError as error:
            code = error.code()
            step.attempts += _attempts(error.trailing_metadata())
            trouble = code in _TROUBLE or (
                code == grpc.StatusCode.DEADLINE_EXCEEDED
                and timeout >= self.settings.breaker_min_timeout_seconds
            )
            if trouble:
                breaker.failed()
            elif code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                breaker.abandoned()
            else:
                breaker.succeeded()
            self.stats.record(step.service, time.perf_counter() - started, failed=trouble)
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(status_pb2.Status(code=_CODE[code], message=error.details() or ""))
        except Unavailable as error:  # out of reach for too long while the call waited
            breaker.abandoned()
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(_status(grpc.StatusCode.UNAVAILABLE, str(error)))
        except _DeadlinePassed:
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(
                _status(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    "the workflow's deadline passed before this step could start",
                )
            )
        except asyncio.CancelledError:
            breaker.abandoned()
            raise
        except Exception:
            breaker.abandoned()
            log.exception("step failed unexpectedly", extra={"step": step.name})
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(_status(grpc.StatusCode.INTERNAL, "internal error"))
        step.finished_at.CopyFrom(now())
        self.events.publish(workflow, step)

    async def persist(self, workflow: pb.Workflow, stored: bool = True) -> bool:
        """Saves the workflow's state; one not stored yet only once it has ended. False
        when the store holds it for someone else now: finished elsewhere (cancelled) or
        taken over by another orchestrator. A store that is briefly away (a restart) is
        tried again for a few seconds; after that the error stands, and the workflow,
        still unfinished in the store, runs again once its lease lapses."""
        for pause in (0.1, 0.2, 0.4, 0.8, 1.6):
            try:
                return await self._write(workflow, stored)
            except Unavailable:
                await asyncio.sleep(pause)
        return await self._write(workflow, stored)

    async def _write(self, workflow: pb.Workflow, stored: bool) -> bool:
        if stored:
            return await self.store.update(workflow, now().ToJsonString(), self.owner)
        if is_final(workflow.status):
            await self.store.insert(workflow)
        return True


class LeaseLost(Exception):
    """The store says this workflow is no longer ours to run."""


class _DeadlinePassed(Exception):
    pass


def _attempts(metadata) -> int:
    for key, value in metadata or ():
        if key == ATTEMPT and value.isdigit():
            return int(value)
    return 1


def conclude(workflow: pb.Workflow) -> None:
    """The workflow's status from its steps' outcomes."""
    failed_required = [s for s in workflow.steps if s.required and s.state == pb.STEP_STATE_FAILED]
    troubled = [s for s in workflow.steps if not s.required and s.HasField("error")]
    succeeded = [s for s in workflow.steps if s.state == pb.STEP_STATE_SUCCEEDED]
    if failed_required or not succeeded:
        step = (failed_required or troubled)[0]
        timed_out = step.error.code == _CODE[grpc.StatusCode.DEADLINE_EXCEEDED]
        workflow.status = (
            pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED if timed_out else pb.WORKFLOW_STATUS_FAILED
        )
        workflow.error.CopyFrom(step.error)
        workflow.error.message = f"step {step.name}: {step.error.message}"
    elif troubled:
        workflow.status = pb.WORKFLOW_STATUS_PARTIAL
        workflow.error.code = troubled[0].error.code
        workflow.error.message = "optional steps gave no result: " + "; ".join(
            f"{s.name} {pb.StepState.Name(s.state).removeprefix('STEP_STATE_').lower()}"
            f" ({s.error.message})"
            for s in troubled
        )
    else:
        workflow.status = pb.WORKFLOW_STATUS_SUCCEEDED
    workflow.finished_at.CopyFrom(now())


def fill_from_cache(workflow: pb.Workflow, value: bytes) -> None:
    """A finished workflow whose result is a cached one: no call made, no usage."""
    workflow.result.ParseFromString(value)
    workflow.cached = True
    stamp = now()
    for step in filter(asked, workflow.steps):
        step.state = pb.STEP_STATE_SUCCEEDED
        step.started_at.CopyFrom(stamp)
        step.finished_at.CopyFrom(stamp)
    workflow.status = pb.WORKFLOW_STATUS_SUCCEEDED
    if not workflow.HasField("started_at"):
        workflow.started_at.CopyFrom(stamp)
    workflow.finished_at.CopyFrom(stamp)


def cancel(workflow: pb.Workflow) -> None:
    for step in workflow.steps:
        if step.state in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING):
            step.state = pb.STEP_STATE_CANCELLED
    workflow.status = pb.WORKFLOW_STATUS_CANCELLED
    workflow.error.CopyFrom(_status(grpc.StatusCode.CANCELLED, "cancelled"))
    workflow.finished_at.CopyFrom(now())


def requeue(workflow: pb.Workflow) -> None:
    """Back to PENDING, as accepted, for the next orchestrator to run from the start."""
    workflow.status = pb.WORKFLOW_STATUS_PENDING
    for name in ("started_at", "result", "usage", "error"):
        workflow.ClearField(name)
    for step in filter(asked, workflow.steps):
        for name in ("started_at", "finished_at", "error", "attempts"):
            step.ClearField(name)
        step.state = pb.STEP_STATE_PENDING
