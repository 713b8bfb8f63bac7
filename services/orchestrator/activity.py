"""Every workflow a verified caller creates is recorded as their activity in the monitor
(the seeds' automatic tracking), off the request path.

Records wait in a bounded queue for one sender; when the monitor is away or slow they
are dropped once the queue is full (and counted in the log), never a workflow delayed or
refused for them: activity is an account of use, not part of the work."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from google.protobuf import struct_pb2

from aiorch.v1 import monitor_pb2, monitor_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.caller import USER_HEADER
from services.common.channels import open_channel

log = logging.getLogger("aiorch.activity")


class ActivityTracker:
    def __init__(self, monitor_addr: str, max_queued: int = 1000, timeout: float = 2.0):
        self._channel = open_channel(monitor_addr)
        self._stub = monitor_pb2_grpc.MonitorServiceStub(self._channel)
        self._queue: asyncio.Queue[tuple[str, monitor_pb2.TrackActivityRequest]] = asyncio.Queue(
            max_queued
        )
        self._timeout = timeout
        self._dropped = 0
        self._task = asyncio.create_task(self._send_forever(), name="activity")

    def created(self, caller: str, workflow: pb.Workflow) -> None:
        """`caller` created (or, with an idempotency key, asked again for) `workflow`."""
        metadata = struct_pb2.Struct()
        metadata.update({"workflow_id": workflow.workflow_id, "cached": workflow.cached})
        request = monitor_pb2.TrackActivityRequest(
            activity_type="workflow_created", feature=workflow.type, metadata=metadata
        )
        try:
            self._queue.put_nowait((caller, request))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped in (1, 10, 100) or not self._dropped % 1000:
                log.warning("activity records dropped", extra={"count": self._dropped})

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._channel.close()

    async def _send_forever(self) -> None:
        while True:
            caller, request = await self._queue.get()
            try:
                await self._stub.TrackActivity(
                    request, metadata=((USER_HEADER, caller),), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as error:
                log.info("activity not recorded", extra={"code": error.code().name})
