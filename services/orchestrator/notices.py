"""What the store's notifications tell this replica (PostgreSQL; see store.py): work was
queued (take some if a worker is idle), a workflow this replica runs was cancelled
through another (stop it now rather than at the next lease renewal), a workflow someone
watches here changed on another replica, or one of its steps did (tell the watchers now
rather than at their next poll).

The step changes of the stored workflows this replica runs go out the other way: in
order, through one sender, batched into one statement whatever piled up while the last
one went, and never waited for by the run (a lost one costs a watcher a step event, not
the end: that comes with the stored record).

After the listening connection was lost and opened again, what was notified meanwhile
is unknown: the queue is looked at, and leases and polls catch the rest."""

from __future__ import annotations

import asyncio
import logging

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database, Listener
from services.orchestrator.events import EventHub
from services.orchestrator.runs import Runs
from services.orchestrator.shared_queue import SharedQueue
from services.orchestrator.store import CANCELLED, CHANGED, QUEUED, STEPS, WorkflowStore

log = logging.getLogger("aiorch.orchestrator")

MAX_BATCH = 200  # step notices sent in one statement at most


class Notices:
    def __init__(
        self, db: Database, store: WorkflowStore, runs: Runs, queue: SharedQueue, events: EventHub
    ):
        self.store = store
        self.runs = runs
        self.queue = queue
        self.events = events
        self.listener: Listener = db.listener(
            {
                QUEUED: self._queued,
                CHANGED: self._changed,
                CANCELLED: self._cancelled,
                STEPS: self._step,
            },
            on_reconnect=queue.arrived,
        )
        self._tasks: set[asyncio.Task] = set()
        self._outbox: list[str] = []
        self._pending = asyncio.Event()
        self._sender: asyncio.Task | None = None
        events.forward = self.forward

    async def start(self, timeout: float = 5.0) -> None:
        """Starts listening; waits (at most `timeout`) until it does."""
        self.listener.start()
        self._sender = asyncio.create_task(self._send(), name="step-notices")
        try:
            async with asyncio.timeout(timeout):
                await self.listener.listening.wait()
        except TimeoutError:
            log.warning("not listening to the store yet; polls and leases stand in")

    async def stop(self) -> None:
        await self.listener.stop()
        tasks = [*self._tasks, *([self._sender] if self._sender is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _queued(self, _payload: str) -> None:
        self.queue.arrived()

    def _cancelled(self, workflow_id: str) -> None:
        if workflow_id in self.runs:
            self._spawn(self.runs.lost(workflow_id))
        else:
            self._changed(workflow_id)

    def _changed(self, workflow_id: str) -> None:
        # A workflow running here tells its watchers itself, step by step.
        if self.events.watched(workflow_id) and workflow_id not in self.runs:
            self._spawn(self._tell_watchers(workflow_id))

    async def _tell_watchers(self, workflow_id: str) -> None:
        workflow = await self.store.get(workflow_id)
        if workflow is not None:
            self.events.relay(workflow)

    def forward(self, workflow: pb.Workflow, step: pb.Step) -> None:
        """Sends a step change of a stored workflow run here to the other replicas (an
        unstored one nobody can watch: its id is not out yet)."""
        run = self.runs.active.get(workflow.workflow_id)
        if run is None or not run.stored:
            return
        status, state = pb.WorkflowStatus.Name(workflow.status), pb.StepState.Name(step.state)
        self._outbox.append(f"{workflow.workflow_id} {status} {step.name} {state}")
        self._pending.set()

    async def _send(self) -> None:
        failing = False
        while True:
            await self._pending.wait()
            self._pending.clear()
            payloads, self._outbox = self._outbox[:MAX_BATCH], self._outbox[MAX_BATCH:]
            if self._outbox:
                self._pending.set()
            try:
                await self.store.notify_steps(payloads)
                failing = False
            except Exception as error:  # dropped: said once while the store is away
                if not failing:
                    log.warning("step notices not sent", extra={"error": str(error)})
                failing = True

    def _step(self, payload: str) -> None:
        workflow_id, status, name, state = payload.split(" ", 3)
        if self.events.watched(workflow_id) and workflow_id not in self.runs:
            workflow = pb.Workflow(workflow_id=workflow_id, status=status)
            self.events.relay(workflow, pb.Step(name=name, state=state))

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(self._quietly(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(self, coroutine) -> None:
        """A notice acted on in vain (the store away) is no error: leases and polls
        catch up."""
        try:
            await coroutine
        except Exception as error:
            log.warning("acting on a notice failed", extra={"error": str(error)})
