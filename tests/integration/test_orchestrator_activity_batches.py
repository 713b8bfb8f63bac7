"""The orchestrator's activity sender over gRPC: what comes within its linger goes as one
TrackActivities call per caller, in order; a monitor without that call (an older one,
during a rolling update) gets the same records one TrackActivity call each."""

from __future__ import annotations

import asyncio
import contextlib

from aiorch.v1 import monitor_pb2, monitor_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common import caller
from services.common.server import Service, create_server
from services.orchestrator.activity import ActivityTracker


class OldMonitor(monitor_pb2_grpc.MonitorServiceServicer):
    """Records what it is sent; knows only TrackActivity."""

    def __init__(self):
        self.calls: list[tuple[str, str, list[str]]] = []  # (rpc, user, workflow ids)

    async def TrackActivity(self, request, context):
        ids = [request.metadata["workflow_id"]]
        self.calls.append(("TrackActivity", caller.user_id(), ids))
        return monitor_pb2.TrackActivityResponse(activity_id="a")


class NewMonitor(OldMonitor):
    async def TrackActivities(self, request, context):
        ids = [one.metadata["workflow_id"] for one in request.activities]
        self.calls.append(("TrackActivities", caller.user_id(), ids))
        return monitor_pb2.TrackActivitiesResponse(activity_ids=["a"] * len(ids))


@contextlib.asynccontextmanager
async def tracker_of(monitor, **changes):
    server = create_server(
        [
            Service(
                "aiorch.v1.MonitorService",
                monitor,
                monitor_pb2_grpc.add_MonitorServiceServicer_to_server,
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    tracker = ActivityTracker(f"127.0.0.1:{server.port}", **changes)
    try:
        yield tracker
    finally:
        await tracker.close()
        await server.stop(0)


async def _until(monitor, count: int) -> None:
    for _ in range(200):
        if sum(len(ids) for _, _, ids in monitor.calls) >= count:
            return
        await asyncio.sleep(0.01)


def _workflow(n: int) -> pb.Workflow:
    return pb.Workflow(workflow_id=f"w{n}", type="classification")


async def test_records_within_the_linger_go_as_one_call_per_caller():
    monitor = NewMonitor()
    async with tracker_of(monitor, linger=0.2) as tracker:
        for n in range(5):
            tracker.created("alice" if n != 2 else "bob", _workflow(n))
        await _until(monitor, 5)
    assert monitor.calls == [
        ("TrackActivities", "alice", ["w0", "w1", "w3", "w4"]),
        ("TrackActivities", "bob", ["w2"]),
    ]


async def test_a_batch_holds_at_most_max_batch_records():
    monitor = NewMonitor()
    async with tracker_of(monitor, linger=0.2, max_batch=3) as tracker:
        for n in range(5):
            tracker.created("alice", _workflow(n))
        await _until(monitor, 5)
    assert [ids for _, _, ids in monitor.calls] == [["w0", "w1", "w2"], ["w3", "w4"]]


async def test_an_older_monitor_gets_the_records_one_by_one():
    monitor = OldMonitor()
    async with tracker_of(monitor, linger=0.2) as tracker:
        for n in range(3):
            tracker.created("alice", _workflow(n))
        await _until(monitor, 3)
        tracker.created("alice", _workflow(3))  # no second try of TrackActivities
        await _until(monitor, 4)
    assert monitor.calls == [("TrackActivity", "alice", [f"w{n}"]) for n in range(4)]


async def test_records_waiting_for_their_batch_are_sent_when_the_tracker_closes():
    monitor = NewMonitor()
    async with tracker_of(monitor, linger=30) as tracker:
        for n in range(3):
            tracker.created("alice", _workflow(n))
        await asyncio.sleep(0.05)  # the sender holds the first, and lingers
    assert monitor.calls == [("TrackActivities", "alice", ["w0", "w1", "w2"])]
