"""Per-workflow event fan-out for WatchWorkflow: the executor publishes each step's and the
workflow's changes; every watcher of that workflow gets its own queue of them."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator import metrics
from services.orchestrator.record import is_final


class EventHub:
    def __init__(self):
        self._watchers: dict[str, set[asyncio.Queue]] = defaultdict(set)
        # Told of each step change published here, for watchers on other replicas.
        self.forward = lambda workflow, step: None

    def subscribe(self, workflow_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers[workflow_id].add(queue)
        return queue

    def unsubscribe(self, workflow_id: str, queue: asyncio.Queue) -> None:
        watchers = self._watchers.get(workflow_id)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[workflow_id]

    def watched(self, workflow_id: str) -> bool:
        return bool(self._watchers.get(workflow_id))

    def publish(self, workflow: pb.Workflow, step: pb.Step | None = None) -> None:
        """Tells the watchers of `workflow` what changed: a step, or (step None) the
        workflow itself; the event of a finished workflow carries the whole record."""
        metrics.observe(workflow, step)
        self.relay(workflow, step)
        if step is not None:
            self.forward(workflow, step)

    def relay(self, workflow: pb.Workflow, step: pb.Step | None = None) -> None:
        """Tells the watchers here of a change made on another replica (which counts it
        in its metrics)."""
        watchers = self._watchers.get(workflow.workflow_id)
        if not watchers:
            return
        event = pb.WatchWorkflowResponse(status=workflow.status)
        event.time.GetCurrentTime()
        if step is not None:
            event.step = step.name
            event.step_state = step.state
        if step is None and is_final(workflow.status):
            event.workflow.CopyFrom(workflow)
        for queue in watchers:
            queue.put_nowait(event)
