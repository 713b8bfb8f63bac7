"""The queue replicas share (PostgreSQL): accepted async work waits in the store, not in
the memory of the replica that accepted it, until a replica with an idle worker takes it.
So work runs wherever there is room, and outlives the replica that accepted it.

Admission bounds each priority's queue across all replicas (Overloaded: RESOURCE_EXHAUSTED
with Retry-After), in the same statement that queues the work. A replica takes work when
it has idle workers and there may be some: work queued here, a worker freed here, a
notice that another replica queued work (`arrived`), or else a poll. Sync work (a caller
waiting on this replica) stays in this replica's scheduler and comes first: queued work
only fills the workers it leaves idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import Overloaded
from services.common.loops import Repeat
from services.orchestrator.recovery import Leases
from services.orchestrator.runs import Runs
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.store import WorkflowStore

log = logging.getLogger("aiorch.orchestrator")

# How often an idle replica looks for work nobody told it of (a notice lost while its
# connection to the store was down).
POLL_SECONDS = 0.5
DEPTH_SECONDS = 5.0  # how often the queue's depth is read for the metrics
# After the store refused a priority's work as full, this replica refuses that priority
# itself for so long, from the depth it read then. Under overload most requests are
# refused, and each refusal from the store costs the shared database two statements (the
# bounded insert, the depth for Retry-After) when every replica is busiest: in the 4x
# overload drill about half of PostgreSQL's CPU (0.24 of a core with them, 0.13 without).
# What waits meanwhile feeds the workers (the interval is kept under a quarter of the time
# they take to run it), and every admission is still bounded by the store itself.
FULL_SECONDS = 0.1
MAX_PAUSE_SECONDS = 4.0  # the longest pause between tries while the store is away


class SharedQueue:
    def __init__(
        self,
        store: WorkflowStore,
        runs: Runs,
        scheduler: Scheduler,
        leases: Leases,
        sizes: dict[int, int],  # priority -> how many may wait, across replicas
        replicas: int,  # how many replicas take from it (for Retry-After)
        full_seconds: float = FULL_SECONDS,
    ):
        self.store = store
        self.runs = runs
        self.scheduler = scheduler
        self.leases = leases
        self.sizes = sizes
        self.replicas = replicas
        self.full_seconds = full_seconds
        self._full_until: dict[int, float] = {}  # priority -> refused here until (monotonic)
        self._wake = asyncio.Event()
        self._more = True  # there may be work to take
        self._task: asyncio.Task | None = None
        # Workflows waiting, by priority, across replicas (as last read; every replica
        # reports the same figure, so a dashboard takes its max, not its sum).
        self.depth: dict[int, int] = {}
        self._depth = Repeat("shared-queue-depth", DEPTH_SECONDS, self._read_depth)

    def start(self) -> None:
        self._task = asyncio.create_task(self._take(), name="shared-queue")
        self._depth.start(first_in=0.0)

    async def stop(self) -> None:
        """Takes no more work (what waits stays queued for the other replicas)."""
        await self._depth.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def put(
        self, workflow: pb.Workflow, request: pb.CreateWorkflowRequest, caller: str
    ) -> bool:
        """Queues an accepted workflow; False when `caller` already used its idempotency
        key. Overloaded when its priority's queue is full."""
        priority = workflow.priority
        if time.monotonic() < self._full_until.get(priority, 0.0):
            raise self._full(priority)  # as the store said a moment ago (see FULL_SECONDS)
        queued = await self.store.enqueue(
            workflow,
            request.SerializeToString(),
            caller=caller,
            idempotency_key=request.idempotency_key,
            queued_at=int(time.time() * 1000),
            limit=self.sizes[priority],
        )
        if queued is None:
            if time.monotonic() >= self._full_until.get(priority, 0.0):  # not told meanwhile
                await self._read_depth()
                # At most a quarter of the time the replicas take to run what waits, so
                # a short queue with fast workers is not left idle meanwhile.
                drain = self.depth.get(priority, 0) / (self._per_second() * self.replicas)
                window = min(self.full_seconds, drain / 4)
                self._full_until[priority] = time.monotonic() + window
            raise self._full(priority)
        if queued:
            self.arrived()
        return queued

    def arrived(self) -> None:
        """Work was queued (here or by another replica)."""
        self._more = True
        self._wake.set()

    def freed(self) -> None:
        """A workflow of this replica ended: a worker may be idle."""
        self._wake.set()

    async def _read_depth(self) -> None:
        self.depth = await self.store.queued()

    def _full(self, priority: int) -> Overloaded:
        """The refusal of work of `priority`, its Retry-After from the depth last read:
        seconds until the replicas have likely run what waits ahead of one more."""
        ahead = sum(count for p, count in self.depth.items() if p >= priority)
        seconds = ahead / (self._per_second() * self.replicas)
        return Overloaded(
            f"the queue of this priority is full ({self.sizes[priority]} workflows across"
            " replicas)",
            retry_after=float(min(60, max(1, math.ceil(seconds)))),
        )

    def _per_second(self) -> float:
        """Workflows one replica runs a second, as its workers go now."""
        return self.scheduler.workers / max(self.scheduler.mean_run_seconds, 0.05)

    async def _take(self) -> None:
        failures = 0
        while True:
            room = self.scheduler.room()
            if room and self._more:
                self._more = False
                try:
                    taken = await self.store.take(self.leases.owner, self.leases.until(), room)
                except Exception as error:  # the store away: try again, less and less often
                    if not failures:
                        log.warning("taking queued work failed", extra={"error": str(error)})
                    failures += 1
                    self._more = True
                    pause = min(POLL_SECONDS * 2**failures, MAX_PAUSE_SECONDS)
                    # (asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                    # cancel that comes as the event is set, and the loop never stops.)
                    with contextlib.suppress(TimeoutError):  # a notice (the store back) ends it
                        async with asyncio.timeout(pause):
                            await self._wake.wait()
                    self._wake.clear()
                    continue
                failures = 0
                self._more = len(taken) == room  # a full take: more may wait
                now = time.time()
                for workflow, request, caller, queued_at in taken:
                    waited = max(0.0, now - queued_at / 1000)
                    self.runs.resume(workflow, request, caller, waited)
                continue
            if not self._wake.is_set():
                try:
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._wake.wait()
                except TimeoutError:
                    self._more = True
            self._wake.clear()
