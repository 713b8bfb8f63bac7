"""Every workflow a verified caller creates is recorded as their activity in the real
monitor, without the caller doing anything; each user sees their own."""

from __future__ import annotations

import asyncio
import contextlib

from aiorch.v1 import monitor_pb2 as mpb
from aiorch.v1 import monitor_pb2_grpc
from services.common.settings import DEFAULT_ADDRS
from services.monitor.__main__ import build as build_monitor
from tests.callers import channel_as
from tools.settings import SuiteSettings

from .conftest import start_service
from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    request,
    start_fakes,
    start_orchestrator,
)


async def _summary(monitor_addr: str, user: str) -> mpb.GetActivitySummaryResponse:
    async with channel_as(monitor_addr, user) as channel:
        stub = monitor_pb2_grpc.MonitorServiceStub(channel)
        return await stub.GetActivitySummary(mpb.GetActivitySummaryRequest(user_id=user), timeout=5)


async def test_each_workflow_is_its_callers_activity(tmp_path):
    async with contextlib.AsyncExitStack() as stack:
        monitor_settings = SuiteSettings(
            database_url=f"sqlite:///{tmp_path}/monitor.db",
            **{f"{name}_metrics_addr": "" for name in DEFAULT_ADDRS},
        )
        _, monitor_settings = await start_service("monitor", build_monitor, monitor_settings, stack)
        addr = await start_fakes(stack, FakeCapabilities())
        settings = fake_settings(tmp_path, addr, monitor_addr=monitor_settings.monitor_addr)
        _, stub, _ = await start_orchestrator(stack, settings)
        alice, bob = (("x-user-id", "alice"),), (("x-user-id", "bob"),)
        await stub.CreateWorkflow(request(), metadata=alice, timeout=5)
        await stub.CreateWorkflow(request("Another text."), metadata=alice, timeout=5)
        await stub.CreateWorkflow(request(wait=False), metadata=bob, timeout=5)
        for _ in range(100):  # recorded off the request path: a moment later
            mine = await _summary(monitor_settings.monitor_addr, "alice")
            theirs = await _summary(monitor_settings.monitor_addr, "bob")
            if (mine.total, theirs.total) == (2, 1):
                break
            await asyncio.sleep(0.05)
    assert (mine.total, theirs.total) == (2, 1)
    assert [(c.name, c.count) for c in mine.by_type] == [("workflow_created", 2)]
    assert [(c.name, c.count) for c in mine.by_feature] == [("classification", 2)]
