"""Replicas on a PostgreSQL that restarts: while it is away, requests that need it are
told UNAVAILABLE (retry), never INTERNAL; when it is back the shared queue takes work again
and the replicas hear each other again (a cancel across them is at once)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import grpc
import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from drills.processes import Postgres

from .orchestrator_fakes import FakeCapabilities, finished, request
from .test_orchestrator_replicas import _replicas, _running_where, _until


@pytest.fixture
def postgres():
    """A PostgreSQL server of the test's own, to stop and start (not the shared one).
    Its folder is outside pytest's, which the `postgres` user may not enter."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            server = Postgres(Path(folder) / "postgres")
        except SystemExit as error:  # no initdb on this machine
            pytest.skip(str(error))
        server.start()
        yield server
        with contextlib.suppress(RuntimeError):
            server.stop()


async def test_a_postgres_restart_is_unavailable_meanwhile_and_forgotten_after(tmp_path, postgres):
    fake = FakeCapabilities(delay=30)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres.url, fake, workflow_lease_seconds=30)
        postgres.stop()
        with pytest.raises(grpc.aio.AioRpcError) as created:
            await stubs[0].CreateWorkflow(request(wait=False, use_cache=False), timeout=10)
        with pytest.raises(grpc.aio.AioRpcError) as read:
            await stubs[1].GetWorkflow(
                pb.GetWorkflowRequest(workflow_id="00000000-0000-0000-0000-000000000000")
            )
        postgres.start()
        fake.delay["Classify"] = 0.1
        for _ in range(100):  # the pool opens new connections as it is used
            with contextlib.suppress(grpc.aio.AioRpcError):
                after = await stubs[0].CreateWorkflow(request(wait=False, use_cache=False))
                break
            await asyncio.sleep(0.1)
        done = await finished(stubs[1], after.workflow.workflow_id)
        fake.delay["Classify"] = 30
        await asyncio.sleep(1.0)  # the listeners' connections are opened again
        workflow_id, _, other = await _running_where(postgres.url, stubs, fake)
        started = time.perf_counter()
        await other.CancelWorkflow(pb.CancelWorkflowRequest(workflow_id=workflow_id))
        await _until(lambda: fake.cancelled["Classify"] == 1, timeout=5)
        cancel_took = time.perf_counter() - started
    assert created.value.code() == grpc.StatusCode.UNAVAILABLE
    assert read.value.code() == grpc.StatusCode.UNAVAILABLE
    assert done.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert cancel_took < 1.0


async def test_sync_work_in_flight_across_a_postgres_restart_ends_well_or_unavailable(
    tmp_path, postgres
):
    fake = FakeCapabilities(delay=0.5)
    async with contextlib.AsyncExitStack() as stack:
        stubs = await _replicas(stack, tmp_path, postgres.url, fake)
        # On each replica one plain (written when it ends) and one with a key (written
        # when it starts and when it ends).
        calls = [
            stub.CreateWorkflow(request(f"text {n}", use_cache=False, **key), timeout=15)
            for n, stub in enumerate(stubs)
            for key in ({}, {"idempotency_key": f"key {n}"})
        ]
        in_flight = asyncio.gather(*calls, return_exceptions=True)
        await _until(lambda: fake.active["Classify"] == 4)
        # Stopped while every one runs, for longer than a write is tried again (persist).
        postgres.stop()
        await asyncio.sleep(4.0)
        postgres.start()
        outcomes = await in_flight
    codes = [
        o.code() if isinstance(o, grpc.aio.AioRpcError) else grpc.StatusCode.OK for o in outcomes
    ]
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, outcomes
    for outcome in outcomes:
        if not isinstance(outcome, BaseException):
            assert outcome.workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
