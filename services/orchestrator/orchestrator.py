"""What the servicer asks of workflows: create one or a batch, read, cancel and watch them;
and the start and stop of the parts that do it (intake, runs, leases).

Sync and async workflows take the same path; a sync caller waits for the end, and a sync
caller that goes away cancels its workflow. A workflow belongs to the caller who created
it: another caller is told there is no such workflow (None as the caller reads any).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.common.errors import DomainError, InvalidInput, Unavailable
from services.orchestrator import record
from services.orchestrator.events import EventHub
from services.orchestrator.intake import WATCH_POLL_SECONDS, Intake
from services.orchestrator.recovery import Leases
from services.orchestrator.runs import Runs
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import Plan, validate_create


class Orchestrator:
    def __init__(
        self,
        intake: Intake,
        runs: Runs,
        leases: Leases,
        store: WorkflowStore,
        events: EventHub,
        validate=validate_create,  # CreateWorkflowRequest -> Plan, for a batch's items
    ):
        self.intake = intake
        self.runs = runs
        self.leases = leases
        self.store = store
        self.events = events
        self.validate = validate

    async def start(self) -> None:
        self.runs.start()
        await self.leases.start()
        if self.intake.queue is not None:
            self.intake.queue.start()

    async def drain(self, grace: float) -> None:
        """Refuses new work; what runs may finish within `grace` less a second, then goes
        back to PENDING, so that sync callers hear it before the server's drain ends.

        The server takes no new call by now, but calls it took just before may still be
        on their way to the queue: they are let in first, rather than refused."""
        deadline = Deadline.within(max(0.0, grace - 1.0))
        if self.intake.queue is not None:
            await self.intake.queue.stop()  # what waits there is for the other replicas
        await self.intake.settled(min(0.2, deadline.remaining()))
        await self.runs.drain(deadline)

    async def stop(self) -> None:
        """Hands unfinished work to the next orchestrator: leases released at once (the
        work itself went back to PENDING in `drain`, or at once here if none ran)."""
        await self.drain(0.0)
        await self.runs.stop()
        await self.leases.stop()

    async def create(
        self, request: pb.CreateWorkflowRequest, plan: Plan, caller: str, rpc_remaining=None
    ) -> pb.Workflow:
        """Accepts one workflow; answers when it has finished if the request waits."""
        run, workflow = await self.intake.accept(request, plan, caller, rpc_remaining)
        if run is None or not request.wait:
            return workflow
        try:
            workflow = await asyncio.shield(run.done)
        except asyncio.CancelledError:
            self.runs.cancel_later(run)  # the caller went away: so does its work
            raise
        if run.error is not None and not record.is_final(workflow.status):
            raise run.error  # its stored record, if any, is run again when its lease lapses
        if run.dropped:  # finished, or runs, elsewhere: wait for that
            elsewhere = await self.runs.read(workflow.workflow_id)
            workflow = await self.intake.first(elsewhere, True, rpc_remaining)
        if not record.is_final(workflow.status):  # handed back by a stop (see drain)
            # Safe to send again as it was when that cannot repeat what ran here: with
            # its idempotency key it finds the stored workflow and waits for the next
            # orchestrator's run of it; without one, only if it never began (nothing of
            # it was stored or done). A hand-back is PENDING; anything else is not one.
            handed_back = workflow.status == pb.WORKFLOW_STATUS_PENDING
            again = "with the same idempotency_key to wait for it" if run.stored else "it"
            raise Unavailable(
                f"the orchestrator stopped before this workflow finished; retry {again}",
                retry_safe=handed_back and (run.stored or not run.began),
                began=run.began,
            )
        return workflow

    async def create_batch(
        self, request: pb.CreateBatchRequest, parallelism: int, caller: str
    ) -> tuple[str, list[pb.BatchItem]]:
        """Accepts each valid item (bad ones get their error); runs them asynchronously,
        at most `parallelism` at a time. Returns (batch id, items)."""
        items, runs = [], []
        try:
            for index, item in enumerate(request.items):
                try:
                    item.wait = False
                    plan = self.validate(item)
                    run, workflow = await self.intake.accept(item, plan, caller, None, feed=False)
                except DomainError as error:
                    items.append(pb.BatchItem(index=index, error=error.status()))
                    continue
                items.append(pb.BatchItem(index=index, workflow_id=workflow.workflow_id))
                if run is not None:
                    runs.append(run)
        finally:
            # Items accepted before the call was cancelled are stored: they run all the same.
            if runs:
                self.runs.feed(runs, parallelism)
        return str(uuid.uuid4()), items

    async def get(self, workflow_id: str, caller: str | None) -> pb.Workflow:
        return await self.runs.read(_canonical(workflow_id), caller)

    async def cancel(self, workflow_id: str, caller: str | None) -> pb.Workflow:
        workflow = await self.get(workflow_id, caller)
        run = self.runs.active.get(workflow.workflow_id)
        if run is not None:
            return await self.runs.cancel(run)
        if record.is_final(workflow.status):
            return workflow
        # Unfinished but not ours: queued, or another replica runs it. Its record says
        # CANCELLED from now on, and that replica cancels the calls at once when the store
        # tells it (PostgreSQL), else when it next renews its leases.
        running = workflow.status == pb.WORKFLOW_STATUS_RUNNING
        record.cancel(workflow)
        await self.store.update(workflow, record.now().ToJsonString(), owner=None)
        # The replica running it counts the cancel in its metrics; here only the watchers
        # hear of it.
        (self.events.relay if running else self.events.publish)(workflow)
        return await self.get(workflow.workflow_id, caller)

    async def watch(
        self, workflow_id: str, caller: str | None
    ) -> AsyncIterator[pb.WatchWorkflowResponse]:
        """Where the workflow stands (each asked step's state, then its status), then each
        event as it happens, to the end."""
        workflow = await self.get(workflow_id, caller)
        queue = self.events.subscribe(workflow.workflow_id)
        try:
            # Subscribed: nothing can be missed from now on. (A workflow running here is
            # read from memory, with no await between, so the two agree.)
            workflow = await self.get(workflow_id, caller)
            told: dict[str, int] = {}  # the state of each step this watcher was told
            for step in filter(record.asked, workflow.steps):
                told[step.name] = step.state
                yield _event(workflow.status, step=step.name, step_state=step.state)
            if record.is_final(workflow.status):
                yield _event(workflow.status, workflow=workflow)
                return
            yield _event(workflow.status)
            while True:
                try:  # (not wait_for: on Python 3.11 it can swallow the caller's cancel)
                    async with asyncio.timeout(WATCH_POLL_SECONDS):
                        event = await queue.get()
                except TimeoutError:  # run by another replica, or ended unseen
                    workflow = await self.get(workflow_id, caller)
                    if not record.is_final(workflow.status):
                        continue
                    event = _event(workflow.status, workflow=workflow)
                if event.HasField("workflow"):
                    # Another replica's step notices travel apart from its end and may
                    # come after it, or be lost with a connection: each step's last
                    # state, as the record has it, goes out before the end.
                    final = event.workflow
                    for step in filter(record.asked, final.steps):
                        if told.get(step.name) != step.state:
                            yield _event(final.status, step=step.name, step_state=step.state)
                    yield event
                    return
                if event.step:
                    told[event.step] = event.step_state
                yield event
        finally:
            self.events.unsubscribe(workflow.workflow_id, queue)


def _canonical(workflow_id: str) -> str:
    try:
        return str(uuid.UUID(workflow_id))
    except ValueError:
        raise InvalidInput("workflow_id", "must be a workflow id (a UUID)") from None


def _event(status: pb.WorkflowStatus, **fields) -> pb.WatchWorkflowResponse:
    return pb.WatchWorkflowResponse(time=record.now(), status=status, **fields)
