"""Workflows outlive their orchestrator: leases on the workflows a process runs, and the
claim of those whose orchestrator died.

Each process renews the leases of its unfinished workflows every third of the lease. At
start and at every renewal it claims the unfinished workflows whose lease lapsed: a
PENDING one never started and runs again from its stored request; a RUNNING one may have
been what killed its orchestrator, so it is marked FAILED with the reason rather than run
again. (A stopping orchestrator sets its interrupted workflows back to PENDING and releases
their leases, so a restart resumes them at once.)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import grpc
from google.rpc import status_pb2

from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.executor import now

log = logging.getLogger("aiorch.recovery")

RESTARTED = "orchestrator restarted while running"


class Leases:
    def __init__(self, orchestrator, seconds: float):
        self.orchestrator = orchestrator
        self.seconds = seconds
        self.owner = uuid.uuid4().hex
        self._task: asyncio.Task | None = None

    def until(self) -> int:
        """The end of a lease taken now, in epoch milliseconds."""
        return int((time.time() + self.seconds) * 1000)

    async def start(self) -> None:
        await self.claim()
        self._task = asyncio.create_task(self._renew_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.orchestrator.store.release(self.owner)

    async def claim(self) -> int:
        """Resumes or fails the workflows a dead orchestrator left; returns how many."""
        store = self.orchestrator.store
        claimed = await store.claim_orphans(self.owner, int(time.time() * 1000), self.until())
        for workflow, request in claimed:
            if workflow.status == pb.WORKFLOW_STATUS_PENDING and request is not None:
                self.orchestrator.resume(workflow, request)
            else:
                fail_restarted(workflow)
                await store.update(workflow, now().ToJsonString())
        if claimed:
            log.info("claimed orphaned workflows", extra={"count": len(claimed)})
        return len(claimed)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / 3)
            try:
                store = self.orchestrator.store
                await store.renew(self.owner, self.until())
                await self.claim()
                runs = self.orchestrator.runs
                for workflow_id in await store.cancelled(self.owner) & set(runs):
                    await self.orchestrator.cancel(workflow_id)
            except Exception:  # the store may be briefly away; try again next round
                log.exception("lease renewal failed")


def fail_restarted(workflow: pb.Workflow) -> None:
    error = status_pb2.Status(code=grpc.StatusCode.ABORTED.value[0], message=RESTARTED)
    for step in workflow.steps:
        if step.state in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING):
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(error)
    workflow.status = pb.WORKFLOW_STATUS_FAILED
    workflow.error.CopyFrom(error)
    workflow.finished_at.CopyFrom(now())
