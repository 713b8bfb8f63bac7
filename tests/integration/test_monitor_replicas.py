"""The monitor as replicas: two started together on one PostgreSQL store keep one activity
record (what one tracks, the other sums up)."""

from __future__ import annotations

import asyncio

from aiorch.v1 import monitor_pb2 as pb

from .test_monitor_service import monitor_server, seconds

KEY = "replicas-share-this-key-0123456789abcdef"


async def test_monitor_replicas_on_one_postgres_keep_one_activity_record(settings, postgres_url):
    shared = {"database_url": postgres_url, "activity_key": KEY, "monitor_replicas": 2}
    first, second = monitor_server(settings, **shared), monitor_server(settings, **shared)
    # Started together: the migrations and the key's fingerprint race, and must agree.
    one, other = await asyncio.gather(first.__aenter__(), second.__aenter__())
    try:
        user = [("x-user-id", "replicated-user")]
        for stub, kind in ((one, "login"), (other, "workflow_created"), (one, "login")):
            await stub.TrackActivity(
                pb.TrackActivityRequest(activity_type=kind, session_id="s"), metadata=user
            )
        ask = pb.GetActivitySummaryRequest(user_id="replicated-user", window=seconds(3600))
        summaries = [await stub.GetActivitySummary(ask, metadata=user) for stub in (one, other)]
    finally:
        await asyncio.gather(first.__aexit__(None, None, None), second.__aexit__(None, None, None))
    for summary in summaries:
        assert {c.name: c.count for c in summary.by_type} == {"login": 2, "workflow_created": 1}
        assert (summary.total, summary.sessions) == (3, 1)
