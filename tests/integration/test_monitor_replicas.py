"""The monitor as replicas: two started together on one PostgreSQL store keep one activity
record (what one tracks, the other sums up); on SQLite a replica refuses to start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from aiorch.v1 import monitor_pb2 as pb
from services.common.settings import PROJECT_ROOT
from tools.suite import free_addr

from .test_monitor_service import monitor_server, seconds

KEY = "replicas-share-this-key-0123456789abcdef"


def test_a_monitor_replica_refuses_to_start_on_sqlite(tmp_path):
    env = os.environ | {
        "AIORCH_MONITOR_REPLICAS": "2",
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp_path}/aiorch.db",
        "AIORCH_MONITOR_ADDR": free_addr(),
        "AIORCH_MONITOR_METRICS_ADDR": free_addr(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "services.monitor"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "monitor_replicas is 2, but the store is not PostgreSQL" in done.stderr
    assert not (tmp_path / "aiorch.db").exists()


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
