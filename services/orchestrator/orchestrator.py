"""The life of a workflow: accepted (idempotency, cache, admission), stored, queued, run,
watched, cancelled; and, for workflows a dead orchestrator left, resumed or failed.

Sync and async workflows take the same path; a sync caller waits for the end, and a sync
caller that goes away cancels its workflow. Each workflow runs in a task of its own, which
CancelWorkflow cancels, and with it the workflow's in-flight calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.common.errors import DomainError, InvalidInput, NotFound, Unavailable
from services.common.settings import Settings
from services.orchestrator import executor as steps
from services.orchestrator.cache import ResultCache
from services.orchestrator.cache_keys import backend_versions, cache_key
from services.orchestrator.events import EventHub, is_final
from services.orchestrator.executor import Executor, now
from services.orchestrator.recovery import Leases
from services.orchestrator.scheduler import Scheduler, Ticket
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import Plan, validate_batch, validate_create
from services.orchestrator.workflows import WORKFLOWS

log = logging.getLogger("aiorch.orchestrator")

WATCH_POLL_SECONDS = 1.0  # a watcher re-reads the store this often (another replica's work)


@dataclass
class Run:
    """A workflow of this process that has not finished."""

    workflow: pb.Workflow
    request: pb.CreateWorkflowRequest
    deadline: Deadline
    key: str | None
    ttl: float
    # A sync workflow without an idempotency key is stored only when it ends: nobody can
    # ask for it before (its id is in the reply), and it saves two writes.
    stored: bool = True
    # The store gave this workflow to someone else while it ran here (see recovery.py):
    # what it ended as here is not its result.
    dropped: bool = False
    ticket: Ticket | None = None  # a batch item's place in the queue, until it is fed
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Orchestrator:
    def __init__(
        self,
        store: WorkflowStore,
        executor: Executor,
        scheduler: Scheduler,
        cache: ResultCache,
        events: EventHub,
        settings: Settings,
    ):
        self.store = store
        self.executor = executor
        self.scheduler = scheduler
        self.cache = cache
        self.events = events
        self.settings = settings
        self.versions = backend_versions(settings)
        self.runs: dict[str, Run] = {}
        self.leases = Leases(
            self,
            executor.owner,
            settings.orchestrator_node,
            settings.workflow_lease_seconds,
            settings.max_interruptions,
        )
        self._background: set[asyncio.Task] = set()
        self._intakes = 0  # requests on their way in (see drain)
        self._no_intake = asyncio.Event()
        self._no_intake.set()

    @property
    def addrs(self) -> dict[str, str]:
        """Where each downstream service is called."""
        return {name: self.settings.addr_of(name) for name in self.executor.stubs}

    async def start(self) -> None:
        self.scheduler.start()
        await self.leases.start()

    async def drain(self, grace: float) -> None:
        """Refuses new work; what runs may finish within `grace` less a second, then goes
        back to PENDING, so that sync callers hear it before the server's drain ends.

        The server takes no new call by now, but calls it took just before may still be
        on their way to the queue: they are let in first, rather than refused."""

        def stopping():
            self.executor.stopping = True

        deadline = Deadline.within(max(0.0, grace - 1.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_intake.wait(), min(0.2, deadline.remaining()))
        await self.scheduler.stop(deadline.remaining(), before_cancel=stopping)
        for run in list(self.runs.values()):  # queued: still PENDING, and its caller hears so
            self._finish(run)

    async def stop(self) -> None:
        """Hands unfinished work to the next orchestrator: leases released at once (the
        work itself went back to PENDING in `drain`, or at once here if none ran)."""
        await self.drain(0.0)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.leases.stop()

    async def create(
        self, request: pb.CreateWorkflowRequest, plan: Plan, caller: str, rpc_remaining=None
    ) -> pb.Workflow:
        """Accepts one workflow; answers when it has finished if the request waits."""
        run, workflow = await self._accept(request, plan, caller, rpc_remaining)
        if run is None:
            return workflow
        if not request.wait:
            return workflow
        try:
            workflow = await asyncio.shield(run.done)
        except asyncio.CancelledError:
            self._spawn(self._cancel_run(run))  # the caller went away: so does its work
            raise
        if run.dropped:  # finished, or runs, elsewhere: wait for that
            workflow = await self._first(await self.get(workflow.workflow_id), True, rpc_remaining)
        if not is_final(workflow.status):  # handed back by a stop (see drain)
            again = "with the same idempotency_key to wait for it" if run.stored else "it"
            raise Unavailable(
                f"the orchestrator stopped before this workflow finished; retry {again}"
            )
        return workflow

    async def create_batch(self, request: pb.CreateBatchRequest, caller: str):
        """Accepts each valid item (bad ones get their error); runs them asynchronously,
        at most `max_parallelism` at a time. Returns (batch id, items)."""
        parallelism = validate_batch(request, self.settings)
        items, runs = [], []
        for index, item in enumerate(request.items):
            try:
                item.wait = False
                run, workflow = await self._accept(
                    item, validate_create(item, self.settings), caller, None, feed=False
                )
            except DomainError as error:
                items.append(pb.BatchItem(index=index, error=error.status()))
                continue
            items.append(pb.BatchItem(index=index, workflow_id=workflow.workflow_id))
            if run is not None:
                runs.append(run)
        if runs:
            self._spawn(self._feed(runs, parallelism))
        return str(uuid.uuid4()), items

    async def get(self, workflow_id: str) -> pb.Workflow:
        try:
            canonical = str(uuid.UUID(workflow_id))
        except ValueError:
            raise InvalidInput("workflow_id", "must be a workflow id (a UUID)") from None
        run = self.runs.get(canonical)
        if run is not None:  # running here: memory has its steps' latest states
            workflow = pb.Workflow()
            workflow.CopyFrom(run.workflow)
            return workflow
        workflow = await self.store.get(canonical)
        if workflow is None:
            raise NotFound(f"no workflow {canonical}")
        return workflow

    async def cancel(self, workflow_id: str) -> pb.Workflow:
        workflow = await self.get(workflow_id)
        run = self.runs.get(workflow.workflow_id)
        if run is not None:
            return await self._cancel_run(run)
        if is_final(workflow.status):
            return workflow
        # Unfinished but not ours: another replica runs it. Its record says CANCELLED from
        # now on, and that replica cancels the calls when it next renews its leases.
        steps.cancel(workflow)
        await self.store.update(workflow, now().ToJsonString(), owner=None)
        self.events.publish(workflow)
        return await self.get(workflow.workflow_id)

    async def lost(self, workflow_id: str) -> None:
        """The store no longer holds `workflow_id` for this process (cancelled through
        another replica, or taken over): its run here stops and writes nothing more."""
        run = self.runs.get(workflow_id)
        if run is None:
            return
        stored = await self.store.get(workflow_id)
        if stored is not None and stored.status != pb.WORKFLOW_STATUS_CANCELLED:
            run.dropped = True
        await self._cancel_run(run)

    async def watch(self, workflow_id: str) -> AsyncIterator[pb.WatchWorkflowResponse]:
        """Where the workflow stands (each asked step's state, then its status), then each
        event as it happens, to the end."""
        workflow = await self.get(workflow_id)
        queue = self.events.subscribe(workflow.workflow_id)
        try:
            # Subscribed: nothing can be missed from now on. (A workflow running here is
            # read from memory, with no await between, so the two agree.)
            workflow = await self.get(workflow_id)
            for step in filter(steps.asked, workflow.steps):
                yield pb.WatchWorkflowResponse(
                    time=now(), step=step.name, step_state=step.state, status=workflow.status
                )
            if is_final(workflow.status):
                yield pb.WatchWorkflowResponse(
                    time=now(), status=workflow.status, workflow=workflow
                )
                return
            yield pb.WatchWorkflowResponse(time=now(), status=workflow.status)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), WATCH_POLL_SECONDS)
                except TimeoutError:  # run by another replica, or ended unseen
                    workflow = await self.get(workflow_id)
                    if not is_final(workflow.status):
                        continue
                    event = pb.WatchWorkflowResponse(
                        time=now(), status=workflow.status, workflow=workflow
                    )
                yield event
                if event.HasField("workflow"):
                    return
        finally:
            self.events.unsubscribe(workflow.workflow_id, queue)

    async def _accept(self, request, plan: Plan, caller: str, rpc_remaining, feed=True):
        """(run, workflow): run is None when the workflow is already finished (cache hit)
        or was started before (idempotency key)."""
        self._intakes += 1
        self._no_intake.clear()
        try:
            return await self._intake(request, plan, caller, rpc_remaining, feed)
        finally:
            self._intakes -= 1
            if not self._intakes:
                self._no_intake.set()

    async def _intake(self, request, plan: Plan, caller: str, rpc_remaining, feed: bool):
        if request.idempotency_key:
            first = await self.store.find(caller, request.idempotency_key)
            if first is not None:
                return None, await self._first(first, request.wait, rpc_remaining)
        spec = plan.spec
        budget = spec.timeout(self.settings)
        if not request.wait:  # it may queue, and be taken over: see CreateWorkflowRequest
            budget = max(budget, self.settings.async_timeout_seconds)
        deadline = Deadline.within(budget).earliest(plan.budget)
        if request.wait:
            deadline = deadline.earliest(rpc_remaining)
        workflow = new_workflow(str(uuid.uuid4()), request, plan, deadline)
        use_cache = request.use_cache if request.HasField("use_cache") else True
        key = cache_key(spec, request.input, plan.outputs, self.versions) if use_cache else None
        if key is not None and (value := await self.cache.get(key)) is not None:
            steps.fill_from_cache(workflow, value)
            if not await self._insert(workflow, request, caller, keep_request=False):
                return None, await self._first_of(caller, request, rpc_remaining)
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
            return None, await self._first_of(caller, request, rpc_remaining)
        accepted = pb.Workflow()
        accepted.CopyFrom(workflow)
        run = Run(workflow, request, deadline, key, spec.cache_ttl(self.settings), stored)
        self.runs[workflow.workflow_id] = run
        if feed:
            self.scheduler.submit(workflow.workflow_id, lambda: self._job(run), ticket)
        else:  # a batch's item keeps its place in the queue until it is fed
            run.ticket = ticket
        return run, accepted

    async def _insert(self, workflow, request, caller, keep_request: bool) -> bool:
        return await self.store.insert(
            workflow,
            caller=caller,
            idempotency_key=request.idempotency_key,
            request=request.SerializeToString() if keep_request else None,
            owner=self.leases.owner,
            lease_until=self.leases.until(),
        )

    async def _first_of(self, caller, request, rpc_remaining) -> pb.Workflow:
        first = await self.store.find(caller, request.idempotency_key)
        return await self._first(first, request.wait, rpc_remaining)

    async def _first(self, workflow: pb.Workflow, wait: bool, rpc_remaining) -> pb.Workflow:
        """The workflow first started with an idempotency key; a waiting caller waits for
        its end (as long as its own deadline allows)."""
        if not wait or is_final(workflow.status):
            return workflow
        limit = Deadline.within(3600).earliest(rpc_remaining)
        while not is_final(workflow.status) and not limit.expired:
            run = self.runs.get(workflow.workflow_id)
            if run is not None:
                try:
                    return await asyncio.wait_for(asyncio.shield(run.done), limit.remaining())
                except TimeoutError:
                    break
            await asyncio.sleep(min(WATCH_POLL_SECONDS, limit.remaining()))
            workflow = await self.get(workflow.workflow_id)
        return workflow

    def resume(self, workflow: pb.Workflow, request_bytes: bytes) -> None:
        """Runs a workflow claimed from the store (PENDING again), under its original
        deadline."""
        request = pb.CreateWorkflowRequest.FromString(request_bytes)
        spec = WORKFLOWS[workflow.type]
        use_cache = request.use_cache if request.HasField("use_cache") else True
        outputs = list(workflow.expected_outputs)
        key = cache_key(spec, request.input, outputs, self.versions) if use_cache else None
        left = workflow.deadline.ToNanoseconds() / 1e9 - time.time()
        deadline = Deadline(time.monotonic() + left)
        ttl = spec.cache_ttl(self.settings)
        self._enqueue(Run(workflow, request, deadline, key, ttl), workflow.priority)

    def _enqueue(self, run: Run, priority: int) -> None:
        """Queues accepted work on its reserved place, or whatever the queue's length
        (resumed)."""
        self.runs[run.workflow.workflow_id] = run
        job = lambda: self._job(run)  # noqa: E731
        if run.ticket is not None:
            self.scheduler.submit(run.workflow.workflow_id, job, run.ticket)
        else:
            self.scheduler.submit(run.workflow.workflow_id, job, priority=priority)

    async def _feed(self, runs: list[Run], parallelism: int) -> None:
        room = asyncio.Semaphore(parallelism)
        for run in runs:
            await room.acquire()
            if run.done.done():  # cancelled before its turn
                self.scheduler.release(run.ticket)
                room.release()
                continue
            run.done.add_done_callback(lambda _: room.release())
            self._enqueue(run, run.workflow.priority)

    async def _job(self, run: Run) -> None:
        try:
            await self.executor.run(
                run.workflow, run.request, run.deadline, run.key, run.ttl, run.stored
            )
        except asyncio.CancelledError:
            pass  # recorded by the executor
        except steps.LeaseLost:
            run.dropped = True
        except Exception:
            log.exception("workflow failed unexpectedly", extra={"id": run.workflow.workflow_id})
        finally:
            self._finish(run)

    def _finish(self, run: Run) -> None:
        self.runs.pop(run.workflow.workflow_id, None)
        if not run.done.done():
            run.done.set_result(run.workflow)

    async def _cancel_run(self, run: Run) -> pb.Workflow:
        task = self.scheduler.running.get(run.workflow.workflow_id)
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        else:
            self.scheduler.remove(run.workflow.workflow_id)
        if not run.done.done():  # queued, held by its batch, or cancelled before it began
            steps.cancel(run.workflow)
            if not run.dropped:
                await self.executor.persist(run.workflow, run.stored)
            self.events.publish(run.workflow)
            self._finish(run)
        return await asyncio.shield(run.done)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def new_workflow(workflow_id: str, request, plan: Plan, deadline: Deadline) -> pb.Workflow:
    """A PENDING workflow with a step per declared step; steps no output needs are SKIPPED."""
    workflow = pb.Workflow(
        workflow_id=workflow_id,
        type=plan.spec.name,
        status=pb.WORKFLOW_STATUS_PENDING,
        priority=request.priority or pb.PRIORITY_NORMAL,
        expected_outputs=plan.outputs,
        created_at=now(),
    )
    workflow.deadline.FromNanoseconds(int(deadline.wall_clock() * 1e9))
    for step_spec, needed in plan.spec.steps_for(tuple(plan.outputs)):
        workflow.steps.add(
            name=step_spec.name,
            service=step_spec.service,
            rpc=step_spec.rpc,
            required=step_spec.required,
            state=pb.STEP_STATE_PENDING if needed else pb.STEP_STATE_SKIPPED,
        )
    return workflow
