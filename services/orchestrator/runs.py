"""The accepted workflows of this process that have not finished: queued, run, cancelled,
handed back at a stop, and given up when the store gives them to someone else.

Each workflow runs in a task of its own, which cancelling cancels, and with it the
workflow's in-flight calls. A sync caller waits on its run's `done`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.common.errors import DomainError, NotFound
from services.orchestrator import record
from services.orchestrator.cache_keys import Keys
from services.orchestrator.events import EventHub
from services.orchestrator.executor import Executor, LeaseLost, Run
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.store import WorkflowStore
from services.orchestrator.workflows import WORKFLOWS

log = logging.getLogger("aiorch.orchestrator")


class Runs:
    def __init__(
        self,
        store: WorkflowStore,
        executor: Executor,
        scheduler: Scheduler,
        events: EventHub,
        keys: Keys,
        cache_ttl,  # WorkflowSpec -> seconds its results are cached
    ):
        self.store = store
        self.executor = executor
        self.scheduler = scheduler
        self.events = events
        self.keys = keys
        self.cache_ttl = cache_ttl
        self.active: dict[str, Run] = {}
        self.on_finish = lambda: None  # told when a run ends (a worker may be idle)
        self._background: set[asyncio.Task] = set()

    def start(self) -> None:
        self.scheduler.start()

    def __contains__(self, workflow_id: str) -> bool:
        return workflow_id in self.active

    def held(self) -> list[str]:
        """The stored workflows running here, whose leases this process renews."""
        return [workflow_id for workflow_id, run in self.active.items() if run.stored]

    async def read(self, workflow_id: str, caller: str | None = None) -> pb.Workflow:
        """The workflow as it stands (of `caller`, unless None); NotFound if there is none."""
        run = self.active.get(workflow_id)
        if run is not None and caller in (None, run.caller):
            return record.copy(run.workflow)  # memory has its steps' latest states
        if run is None:
            workflow = await self.store.get(workflow_id, caller)
            if workflow is not None:
                return workflow
        raise NotFound(f"no workflow {workflow_id}")

    def add(self, run: Run, feed: bool = True) -> None:
        """Takes an accepted run; queued at once on its ticket, or held (a batch's item)
        until `feed` queues it."""
        self.active[run.workflow.workflow_id] = run
        if feed:
            self._enqueue(run)

    def resume(
        self, workflow: pb.Workflow, request_bytes: bytes, caller: str, waited: float = 0.0
    ) -> None:
        """Runs a workflow claimed or taken from the store (PENDING), under its original
        deadline, whatever the queue's length; `waited`: seconds it waited there."""
        request = pb.CreateWorkflowRequest.FromString(request_bytes)
        left = workflow.deadline.ToNanoseconds() / 1e9 - time.time()
        deadline = Deadline(time.monotonic() + left)
        ttl = self.cache_ttl(WORKFLOWS[workflow.type])
        key = self.keys.of(workflow, request, caller)
        run = Run(workflow, request, caller, deadline, key, ttl)
        self.active[workflow.workflow_id] = run
        job = lambda: self._job(run)  # noqa: E731
        self.scheduler.submit(workflow.workflow_id, job, priority=workflow.priority, waited=waited)

    def feed(self, runs: list[Run], parallelism: int) -> None:
        """Queues a batch's runs, at most `parallelism` of them unfinished at a time."""
        self._spawn(self._feed(runs, parallelism))

    async def cancel(self, run: Run) -> pb.Workflow:
        task = self.scheduler.running.get(run.workflow.workflow_id)
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        else:
            self.scheduler.remove(run.workflow.workflow_id)
        if not run.done.done():  # queued, held by its batch, or cancelled before it began
            record.cancel(run.workflow)
            if not run.dropped:
                await self.executor.persist(run)
            self.events.publish(run.workflow)
            self._finish(run)
        return await asyncio.shield(run.done)

    def cancel_later(self, run: Run) -> None:
        """Cancels `run` without waiting (its waiting caller went away)."""
        self._spawn(self.cancel(run))

    async def lost(self, workflow_id: str) -> None:
        """The store no longer holds `workflow_id` for this process (cancelled through
        another replica, or taken over): its run here stops and writes nothing more."""
        run = self.active.get(workflow_id)
        if run is None:
            return
        stored = await self.store.get(workflow_id)
        if stored is not None and stored.status != pb.WORKFLOW_STATUS_CANCELLED:
            run.dropped = True
        await self.cancel(run)

    async def drain(self, deadline: Deadline) -> None:
        """Lets what runs finish until `deadline`, then sends it back to PENDING; what is
        queued stays PENDING, and its sync callers hear so."""

        def stopping():
            self.executor.stopping = True

        await self.scheduler.stop(deadline.remaining(), before_cancel=stopping)
        for run in list(self.active.values()):
            self._finish(run)

    async def stop(self) -> None:
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _enqueue(self, run: Run) -> None:
        """Queues a run on its reserved place, or whatever the queue's length (resumed)."""
        job = lambda: self._job(run)  # noqa: E731
        if run.ticket is not None:
            self.scheduler.submit(run.workflow.workflow_id, job, run.ticket)
        else:
            self.scheduler.submit(run.workflow.workflow_id, job, priority=run.workflow.priority)

    async def _feed(self, runs: list[Run], parallelism: int) -> None:
        room = asyncio.Semaphore(parallelism)
        for run in runs:
            await room.acquire()
            if run.done.done():  # cancelled before its turn
                if run.ticket is not None:
                    self.scheduler.release(run.ticket)
                room.release()
                continue
            run.done.add_done_callback(lambda _: room.release())
            self._enqueue(run)

    async def _job(self, run: Run) -> None:
        try:
            await self.executor.run(run)
            if not run.stored:
                # A sync workflow nobody can ask for yet: its caller hears first, and its
                # record is written after, readable from memory until then.
                run.done.set_result(run.workflow)
                await asyncio.shield(self.executor.persist(run))
        except asyncio.CancelledError:
            pass  # recorded by the executor
        except LeaseLost:
            run.dropped = True
        except DomainError as error:  # the store away, say
            log.warning(
                "workflow stopped by an error",
                extra={"id": run.workflow.workflow_id, "error": str(error)},
            )
            run.error = error
        except Exception:
            log.exception("workflow failed unexpectedly", extra={"id": run.workflow.workflow_id})
            run.error = DomainError("the workflow failed unexpectedly")
        finally:
            self._finish(run)

    def _finish(self, run: Run) -> None:
        self.active.pop(run.workflow.workflow_id, None)
        if not run.done.done():
            run.done.set_result(run.workflow)
        self.on_finish()

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
