"""The client's errors against scripted services: a failed step, a cancelled workflow,
an overloaded service retried by the channel's service config, a service that is down."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from aiorch_client import AsyncClient, ResourceExhausted, Unavailable, WorkflowFailed
from aiorch_client.types import orchestrator

from services.common.errors import InvalidInput, Overloaded

from .orchestrator_fakes import FakeCapabilities, fake_settings, start_fakes, start_orchestrator

LABELS = ["finance", "sport"]


@pytest.fixture
async def scripted(tmp_path):
    """(fake capabilities, a client of an orchestrator that calls them)."""
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        addr = await start_fakes(stack, fake)
        server, _, _ = await start_orchestrator(stack, fake_settings(tmp_path, addr))
        addrs = {"orchestrator": f"127.0.0.1:{server.port}", "classifier": addr}
        client = AsyncClient(addrs=addrs, user="client-test", timeout=10)
        stack.push_async_callback(client.close)
        yield fake, client


async def test_a_failed_required_step_raises_workflow_failed_with_the_step(scripted):
    fake, client = scripted
    fake.always_fail["Classify"] = InvalidInput("text", "not a document")
    with pytest.raises(WorkflowFailed) as raised:
        await client.run("classification", text="x", labels=LABELS, use_cache=False)
    error = raised.value
    assert error.workflow.status == orchestrator.WORKFLOW_STATUS_FAILED
    assert error.exit_code == 6
    [step] = error.failed_steps
    assert step.state == "STEP_STATE_FAILED"
    assert step.error is not None and step.error.message


async def test_cancel_ends_a_running_workflow_and_wait_reports_it(scripted):
    fake, client = scripted
    fake.delay["Classify"] = 30
    started = await client.start("classification", text="x", labels=LABELS, use_cache=False)
    await asyncio.wait_for(fake.started.wait(), 5)
    cancelled = await client.cancel(started.workflow_id)
    assert cancelled.status == orchestrator.WORKFLOW_STATUS_CANCELLED
    with pytest.raises(WorkflowFailed) as raised:
        await client.wait(started.workflow_id, timeout=5)
    assert raised.value.workflow.status == orchestrator.WORKFLOW_STATUS_CANCELLED


async def test_an_overloaded_service_is_retried_then_raises_with_its_retry_delay(scripted):
    fake, client = scripted
    fake.always_fail["Classify"] = Overloaded("queue full", retry_after=0.01)
    with pytest.raises(ResourceExhausted) as raised:
        await client.classify("x", LABELS)
    assert raised.value.retry_after == pytest.approx(0.01)
    assert fake.calls["Classify"] == 4  # the service config's maxAttempts


async def test_a_service_that_is_down_raises_unavailable_with_its_exit_code():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{sock.getsockname()[1]}"
    async with AsyncClient(addr, timeout=5, wait_for_ready=False) as client:
        with pytest.raises(Unavailable) as raised:
            await client.embed("hello")
    assert raised.value.exit_code == 4
