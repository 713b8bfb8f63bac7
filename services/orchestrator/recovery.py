"""Workflows outlive their orchestrator: leases on the workflows a process runs, and the
claim of those whose orchestrator died.

Each process renews the leases of the workflows it runs, and only those, every quarter of
the lease; a lease it no longer holds (cancelled through another replica, or taken over
after it stalled) stops that run here. At start and at every renewal it claims unfinished
workflows whose lease lapsed, and at once those an earlier life of its node left (a
restarted pod keeps its node name): all of them run again from their stored request,
since a step only reads its input and a second run is safe. A workflow whose runs died
with their orchestrator `max_interruptions` times is failed with that reason instead: it
may be what kills them. (A stopping orchestrator sets its interrupted workflows back to
PENDING and releases their leases, which is no interruption.)
"""

from __future__ import annotations

import logging
import time
import uuid

from services.common.loops import Repeat
from services.orchestrator import metrics, record

log = logging.getLogger("aiorch.recovery")


def lease_owner(node: str) -> str:
    """This process's owner name: `node/<random>` when it has a node name, so the next
    life of the same node knows what this one left."""
    life = uuid.uuid4().hex
    return f"{node}/{life}" if node else life


class Leases:
    def __init__(self, store, runs, owner: str, node: str, seconds: float, max_interruptions: int):
        self.store = store  # WorkflowStore
        self.runs = runs  # Runs: what this process runs
        self.owner = owner
        self.node = node
        self.seconds = seconds
        self.max_interruptions = max_interruptions
        self._loop = Repeat("leases", seconds / 4, self._tick)

    def until(self) -> int:
        """The end of a lease taken now, in epoch milliseconds."""
        return int((time.time() + self.seconds) * 1000)

    async def start(self) -> None:
        await self.claim()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        await self.store.release(self.owner)

    async def claim(self) -> int:
        """Runs again, or fails, the workflows a dead orchestrator left; returns how many."""
        claimed = await self.store.claim_orphans(
            self.owner, self.node, int(time.time() * 1000), self.until()
        )
        taken = 0
        for workflow, request, caller, interruptions in claimed:
            if workflow.workflow_id in self.runs:
                continue  # running here still: the claim only renewed its lease
            taken += 1
            if request is None or interruptions >= self.max_interruptions:
                record.fail_interrupted(workflow, interruptions)
                await self.store.update(workflow, record.now().ToJsonString(), self.owner)
                continue
            record.requeue(workflow)
            self.runs.resume(workflow, request, caller)
        if taken:
            log.info("claimed orphaned workflows", extra={"count": taken})
            metrics.TAKEOVERS.inc(taken)
        return taken

    async def renew(self) -> None:
        """Extends the leases of what runs here; a run whose lease is gone stops."""
        for workflow_id in await self.store.renew(self.owner, self.runs.held(), self.until()):
            await self.runs.lost(workflow_id)

    async def _tick(self) -> None:
        await self.renew()
        await self.claim()
