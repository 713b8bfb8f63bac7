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
from dataclasses import dataclass, field

import grpc

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.caller import USER_HEADER
from services.common.channels import Link
from services.common.deadlines import Deadline
from services.common.errors import DomainError, Unavailable, is_quota_spent, public_text
from services.common.handlers import ATTEMPT
from services.orchestrator import record
from services.orchestrator.breaker import CircuitBreaker
from services.orchestrator.cache import Flight, ResultCache
from services.orchestrator.cache_keys import Keys
from services.orchestrator.calls import RPCS
from services.orchestrator.events import EventHub
from services.orchestrator.scheduler import Ticket
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


@dataclass
class Run:
    """An accepted workflow of this process that has not finished."""

    workflow: pb.Workflow
    request: pb.CreateWorkflowRequest
    caller: str
    deadline: Deadline
    key: str | None  # its cache key; None: neither looked up, shared nor cached
    ttl: float  # how long its result is cached
    # A sync workflow without an idempotency key is stored only when it ends: nobody can
    # ask for it before (its id is in the reply), and it saves two writes.
    stored: bool = True
    # The store gave this workflow to someone else while it ran here (see recovery.py):
    # what it ended as here is not its result.
    dropped: bool = False
    ticket: Ticket | None = None  # a batch item's place in the queue, until it is fed
    # The context version its key was made with (contexts.py): its result is cached under
    # the state it was computed from, not the state it left.
    context: str | None = ""
    # It began to run here: a stop that hands it back may leave what its steps did (an
    # answer charged to the caller's budget), so sending it again is not always safe.
    began: bool = False
    # What ended it here other than its steps (the store away, a bug): what its waiting
    # caller hears, as itself (a bug as INTERNAL, which no retry policy repeats).
    error: DomainError | None = None
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class Downstream:
    """A service steps call: its stub, its connection and its breaker."""

    stub: object
    link: Link
    breaker: CircuitBreaker


class Executor:
    def __init__(
        self,
        store: WorkflowStore,
        services: dict[str, Downstream],
        cache: ResultCache,
        keys: Keys,
        events: EventHub,
        stats: CallStats,
        *,
        owner: str,
        margin: float,
        breaker_min_timeout: float,
        max_text_chars: int,
    ):
        self.owner = owner  # the lease holder every write of ours names (recovery.py)
        self.store = store
        self.services = services
        self.cache = cache
        self.keys = keys
        self.events = events
        self.stats = stats
        self.margin = margin
        # A call cut short by a deadline shorter than this says nothing of the service.
        self.breaker_min_timeout = breaker_min_timeout
        self.max_text_chars = max_text_chars
        # Set while the orchestrator stops: a workflow cancelled then goes back to PENDING
        # (to be resumed by the next orchestrator) instead of ending CANCELLED.
        self.stopping = False

    async def run(self, run: Run) -> pb.Workflow:
        """Runs `run` to its end; with a cache key, shares the result of an identical
        request that finished or is running, and caches its own success. A workflow not
        stored yet is left for the caller to store (see Runs), unless cancelled."""
        workflow = run.workflow
        record.start(workflow)
        run.began = True
        if not await self.persist(run):
            raise LeaseLost(workflow.workflow_id)
        self.events.publish(workflow)
        try:
            if run.key is None:
                await self._steps(run.workflow, run.request, run.deadline, run.caller)
                await self._conclude(run)
            elif (flight := self.cache.flight(run.key)) is None:
                await self._lead(run, run.key)
            elif not await self._join(workflow, flight, run.deadline):
                await self._lead(run, run.key, alone=True)
        except asyncio.CancelledError:
            # Cancelled by CancelWorkflow, by a sync caller that went away, or by a stop:
            # record it rather than leave the workflow RUNNING.
            (record.requeue if self.stopping else record.cancel)(workflow)
            await asyncio.shield(self.persist(run))
            self.events.publish(workflow)
            raise
        if run.stored and not await self.persist(run):
            raise LeaseLost(workflow.workflow_id)
        self.events.publish(workflow)
        return workflow

    async def _lead(self, run: Run, key: str, alone: bool = False) -> None:
        """Computes the run's result (its cache key: `key`), unless the cache has it or
        another replica computes it now (then waits for that); identical requests here
        meanwhile wait for this one. `alone`: the identical request this one waited for
        failed; no more waiting."""
        workflow = run.workflow
        with self.cache.lead(key) as shared:
            value: bytes | None = None
            marker: str | None = ""
            if not alone:
                value, marker = await self.cache.look_or_claim(key)
            if value is None and marker is None:  # another replica computes it
                try:
                    value = await self.cache.await_flight(key, run.deadline.remaining())
                except TimeoutError:
                    record.outwaited(workflow)
                    return
            if value is not None:
                record.fill_from_cache(workflow, value)
                shared.set_result(value)
                return
            async with self.cache.holding(key, marker or "") as flight:
                await self._steps(workflow, run.request, run.deadline, run.caller)
                value = flight.value = await self._conclude(run, flight)
            if value is not None:
                shared.set_result(value)

    async def _conclude(self, run: Run, flight: Flight | None = None) -> bytes | None:
        """Concludes the workflow; a success is cached under the models its replies named
        (they may differ from those its key was made with) and returned."""
        workflow = run.workflow
        record.conclude(workflow)
        if workflow.status != pb.WORKFLOW_STATUS_SUCCEEDED:
            return None
        value = record.cache_value(workflow)
        key = self.keys.of(workflow, run.request, run.caller, known=True, context=run.context)
        if key is not None:
            await self.cache.put(key, value, run.ttl, flight)
        return value

    async def _join(self, workflow: pb.Workflow, flight, deadline: Deadline) -> bool:
        """Fills `workflow` from an identical request running here; False when that one
        did not succeed."""
        try:
            async with asyncio.timeout(deadline.remaining()):
                value = await asyncio.shield(flight)
        except TimeoutError:
            record.outwaited(workflow)
            return True
        if value is None:
            return False
        record.fill_from_cache(workflow, value)
        return True

    async def _steps(self, workflow, request, deadline: Deadline, caller: str) -> None:
        pending = [step for step in workflow.steps if step.state == pb.STEP_STATE_PENDING]
        if len(pending) == 1:  # the common case: no task of its own to run it beside others
            await self._run_step(pending[0], workflow, request, deadline, caller)
            return
        async with asyncio.TaskGroup() as group:
            for step in pending:
                group.create_task(self._run_step(step, workflow, request, deadline, caller))

    def _refusal(self, service: Downstream) -> str | None:
        """Why a call to `service` must not go out now, if it must not."""
        service.breaker.reconnected(service.link.ready_at)
        try:
            service.link.check()
        except Unavailable as error:
            return str(error)
        if not service.breaker.allow():
            return (
                f"{service.link.name} is failing: its circuit breaker is open "
                f"(next try in {service.breaker.retry_in():.1f} s)"
            )
        return None

    async def _run_step(self, step, workflow, request, deadline: Deadline, caller: str) -> None:
        service = self.services[step.service]
        if (refusal := self._refusal(service)) is not None:
            record.step_refused(step, refusal)
            self.events.publish(workflow, step)
            return
        record.step_started(step)
        self.events.publish(workflow, step)
        timeout = deadline.remaining(self.margin)
        started = time.perf_counter()
        try:
            reply = await self._call(service, step, workflow, request, timeout, caller)
        except grpc.aio.AioRpcError as error:
            step.attempts += _attempts(error.trailing_metadata())
            failed = self._judge(service.breaker, error, timeout)
            self.stats.record(step.service, time.perf_counter() - started, failed=failed)
            record.step_failed(step, error.code(), public_text(error.details() or ""))
        except Unavailable as error:  # out of reach for too long while the call waited
            service.breaker.abandoned()
            record.step_failed(step, grpc.StatusCode.UNAVAILABLE, str(error))
        except _DeadlinePassed:
            service.breaker.abandoned()
            record.step_failed(
                step,
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "the workflow's deadline passed before this step could start",
            )
        except asyncio.CancelledError:
            service.breaker.abandoned()
            raise
        except Exception:
            service.breaker.abandoned()
            log.exception("step failed unexpectedly", extra={"step": step.name})
            record.step_failed(step, grpc.StatusCode.INTERNAL, "internal error")
        else:
            service.breaker.succeeded()
            self.stats.record(step.service, time.perf_counter() - started, failed=False)
            self.keys.learn(step.service, step.rpc, reply.model)
            record.step_succeeded(workflow, step, RPCS[step.rpc].result_field, reply)
        self.events.publish(workflow, step)

    async def _call(
        self, service: Downstream, step, workflow, request, timeout: float, caller: str
    ):
        """The step's RPC, answered, for the workflow's caller (x-user-id: a service that
        keeps things per user, like the assistant's knowledge store, keeps them for the
        user the workflow acts for); its attempts counted on the step."""
        if timeout <= 0:
            raise _DeadlinePassed
        message = RPCS[step.rpc].request(request, workflow, step, self.max_text_chars)
        metadata = ((USER_HEADER, caller),) if caller else None
        call = getattr(service.stub, step.rpc)(message, timeout=timeout, metadata=metadata)
        reply = await service.link.call(call)
        step.attempts += _attempts(await call.trailing_metadata())
        return reply

    def _judge(self, breaker: CircuitBreaker, error: grpc.aio.AioRpcError, timeout: float) -> bool:
        """Tells the breaker what a failed call says of its service; True if trouble. A
        quota of the workflow's caller that is spent (their daily token budget) is that
        caller's, not the service's: one user's budget must not shut the service off for
        everyone."""
        code = error.code()
        trouble = (code in _TROUBLE and not is_quota_spent(error)) or (
            code == grpc.StatusCode.DEADLINE_EXCEEDED and timeout >= self.breaker_min_timeout
        )
        if trouble:
            breaker.failed()
        elif code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
            breaker.abandoned()
        else:  # the service answered: the request was at fault (INVALID_ARGUMENT, ...)
            breaker.succeeded()
        return trouble

    async def persist(self, run: Run) -> bool:
        """Saves the run's workflow; one not stored yet only once it has ended. False
        when the store holds it for someone else now: finished elsewhere (cancelled) or
        taken over by another orchestrator. A store that is briefly away (a restart) is
        tried again for a few seconds; after that the error stands, and the workflow,
        still unfinished in the store, runs again once its lease lapses."""
        for pause in (0.1, 0.2, 0.4, 0.8, 1.6):
            try:
                return await self._write(run)
            except Unavailable:
                await asyncio.sleep(pause)
        return await self._write(run)

    async def _write(self, run: Run) -> bool:
        if run.stored:
            return await self.store.update(run.workflow, record.now().ToJsonString(), self.owner)
        if record.is_final(run.workflow.status):
            await self.store.insert_finished(run.workflow, run.caller)
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
