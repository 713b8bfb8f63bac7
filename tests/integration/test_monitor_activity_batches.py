"""TrackActivities through gRPC on a real monitor: a caller's activities stored at once,
all or none, each checked as TrackActivity checks one."""

from __future__ import annotations

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import monitor_pb2 as pb
from services.common.errors import field_violations

from .test_monitor_service import ADMIN, monitor_server, seconds

# The key of tests/unit/monitor/test_activity_store.py: the session's PostgreSQL schema is
# shared, and a store refuses a second key.
KEY = "test-activity-key-0123456789abcdef"


def activity(kind: str, feature: str = "", session: str = "") -> pb.TrackActivityRequest:
    request = pb.TrackActivityRequest(activity_type=kind, feature=feature, session_id=session)
    request.metadata.update({"workflow_id": "w", "cached": False})
    return request


async def _summary(stub, user: str) -> pb.GetActivitySummaryResponse:
    own = pb.GetActivitySummaryRequest(user_id=user, window=seconds(3600))
    return await stub.GetActivitySummary(own, timeout=5, metadata=ADMIN)


async def test_a_batch_is_stored_as_its_callers_activities_on_each_store(settings, database_url):
    async with monitor_server(settings, database_url=database_url, activity_key=KEY) as stub:
        user = f"batch-{database_url.split(':')[0]}-{id(stub)}"
        batch = pb.TrackActivitiesRequest(
            activities=[
                activity("workflow_created", "classification", "s1"),
                activity("workflow_created", "classification", "s1"),
                activity("workflow_created", "hybrid", "s2"),
                activity("result_viewed"),
            ]
        )
        reply = await stub.TrackActivities(batch, timeout=5, metadata=[("x-user-id", user)])
        assert len(reply.activity_ids) == 4
        assert len(set(reply.activity_ids)) == 4
        assert all(len(i) == 36 for i in reply.activity_ids)
        summary = await _summary(stub, user)
        assert {c.name: c.count for c in summary.by_type} == {
            "workflow_created": 3,
            "result_viewed": 1,
        }
        assert [(c.name, c.count) for c in summary.by_feature] == [
            ("classification", 2),
            ("hybrid", 1),
        ]
        assert (summary.total, summary.sessions) == (4, 2)


async def test_one_bad_activity_refuses_the_batch_naming_it(settings, tmp_path):
    url = f"sqlite:///{tmp_path}/monitor.db"
    async with monitor_server(settings, database_url=url, activity_key=KEY) as stub:
        user = [("x-user-id", "careless")]
        batch = pb.TrackActivitiesRequest(
            activities=[activity("fine"), activity("has space"), activity("fine")]
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.TrackActivities(batch, timeout=5, metadata=user)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "activities[1].activity_type" in field_violations(rpc_status.from_call(caught.value))
        assert (await _summary(stub, "careless")).total == 0  # all or none

        for empty_or_too_many in ([], [activity("x")] * 501):
            batch = pb.TrackActivitiesRequest(activities=empty_or_too_many)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.TrackActivities(batch, timeout=5, metadata=user)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "activities" in field_violations(rpc_status.from_call(caught.value))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.TrackActivities(
                pb.TrackActivitiesRequest(activities=[activity("x")]), timeout=5
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
