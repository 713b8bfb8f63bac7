"""A capability service that restarts is ridden out; one out of reach for long fails its
steps fast with the reason; one that comes back is used again at once, whatever its
breaker said before."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiorch.v1 import orchestrator_pb2 as pb

from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    request,
    start_fakes,
    start_orchestrator,
)


async def _until_succeeds(stub, limit: float) -> float:
    """Seconds until a workflow succeeds again, sending one after another."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        workflow = (await stub.CreateWorkflow(request(use_cache=False), timeout=10)).workflow
        if workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED:
            return time.perf_counter() - started
    raise AssertionError(f"no workflow succeeded within {limit} s")


async def test_a_step_waits_for_a_restarting_service_within_its_deadline(tmp_path):
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        _, stub, _ = await start_orchestrator(stack, fake_settings(tmp_path, addr))
        await _until_succeeds(stub, 5)
        await down.aclose()  # the service goes away...
        waiting = asyncio.ensure_future(stub.CreateWorkflow(request(use_cache=False), timeout=10))
        await asyncio.sleep(1.0)
        assert not waiting.done()  # ...the workflow waits for it...
        await start_fakes(stack, fake, addr)  # ...and it is back
        workflow = (await waiting).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED


async def test_a_service_out_of_reach_for_long_fails_fast_then_is_used_again_at_once(tmp_path):
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        settings = fake_settings(tmp_path, addr, unreachable_fail_fast_seconds=0.3)
        _, stub, _ = await start_orchestrator(stack, settings)
        await _until_succeeds(stub, 5)
        await down.aclose()
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        failed = (await stub.CreateWorkflow(request(use_cache=False), timeout=10)).workflow
        took = time.perf_counter() - started
        before = fake.calls["Classify"]
        await start_fakes(stack, fake, addr)
        back_after = await _until_succeeds(stub, 10)
        await asyncio.sleep(0.3)
        after = fake.calls["Classify"]
    assert failed.status == pb.WORKFLOW_STATUS_FAILED
    assert "classifier has been unreachable for" in failed.error.message
    assert took < 1.0  # failed fast, not at its deadline
    assert back_after < 2.0  # gRPC's default reconnect backoff would take far longer
    # The call refused while the service was away never goes out once it is back.
    assert after - before == 1


async def test_a_restart_gives_a_service_whose_breaker_opened_a_fresh_start(tmp_path):
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        settings = fake_settings(tmp_path, addr, breaker_failures=1, breaker_reset_seconds=600)
        _, stub, _ = await start_orchestrator(stack, settings)
        fake.errors["Classify"] = [RuntimeError("broken")]
        broken = (await stub.CreateWorkflow(request(use_cache=False), timeout=10)).workflow
        refused = (await stub.CreateWorkflow(request(use_cache=False), timeout=10)).workflow
        await down.aclose()  # restarted (by Kubernetes, say)
        await start_fakes(stack, fake, addr)
        back_after = await _until_succeeds(stub, 10)
    assert broken.status == refused.status == pb.WORKFLOW_STATUS_FAILED
    assert "circuit breaker is open" in refused.error.message
    assert back_after < 2.0  # not the breaker's 600 s


async def test_a_service_restarted_with_another_model_is_not_served_the_old_results(tmp_path):
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        _, stub, _ = await start_orchestrator(stack, fake_settings(tmp_path, addr))
        first = (await stub.CreateWorkflow(request(), timeout=10)).workflow
        again = (await stub.CreateWorkflow(request(), timeout=10)).workflow
        await down.aclose()
        # The classifier alone is reconfigured (AIORCH_CLASSIFIER_BACKEND=openai, say)
        # and restarted quickly; the orchestrator's own settings never change.
        fake.model = "openai/gpt-4o-mini"
        await start_fakes(stack, fake, addr)
        after = (await stub.CreateWorkflow(request(), timeout=10)).workflow
        cached_again = (await stub.CreateWorkflow(request(), timeout=10)).workflow
    assert not first.cached and again.cached
    assert not after.cached
    assert after.result.classification.model == "openai/gpt-4o-mini"
    assert cached_again.cached
    assert cached_again.result.classification.model == "openai/gpt-4o-mini"
