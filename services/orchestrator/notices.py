"""What the store's notifications tell this replica (PostgreSQL; see store.py): work was
queued (take some if a worker is idle), a workflow this replica runs was cancelled
through another (stop it now rather than at the next lease renewal), a workflow someone
watches here changed on another replica (tell the watchers now rather than at their
next poll).

After the listening connection was lost and opened again, what was notified meanwhile
is unknown: the queue is looked at, and leases and polls catch the rest."""

from __future__ import annotations

import asyncio
import logging

from services.common.database import Database, Listener
from services.orchestrator.events import EventHub
from services.orchestrator.runs import Runs
from services.orchestrator.shared_queue import SharedQueue
from services.orchestrator.store import CANCELLED, CHANGED, QUEUED, WorkflowStore

log = logging.getLogger("aiorch.orchestrator")


class Notices:
    def __init__(
        self, db: Database, store: WorkflowStore, runs: Runs, queue: SharedQueue, events: EventHub
    ):
        self.store = store
        self.runs = runs
        self.queue = queue
        self.events = events
        self.listener: Listener = db.listener(
            {QUEUED: self._queued, CHANGED: self._changed, CANCELLED: self._cancelled},
            on_reconnect=queue.arrived,
        )
        self._tasks: set[asyncio.Task] = set()

    async def start(self, timeout: float = 5.0) -> None:
        """Starts listening; waits (at most `timeout`) until it does."""
        self.listener.start()
        try:
            await asyncio.wait_for(self.listener.listening.wait(), timeout)
        except TimeoutError:
            log.warning("not listening to the store yet; polls and leases stand in")

    async def stop(self) -> None:
        await self.listener.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

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
