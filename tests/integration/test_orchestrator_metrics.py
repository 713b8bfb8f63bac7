"""The orchestrator's own metrics after real workflows over real servers."""

from __future__ import annotations

import contextlib
import time
import uuid

from prometheus_client import REGISTRY

from aiorch.v1 import classifier_pb2, orchestrator_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.common.errors import Unavailable
from services.orchestrator.store import WorkflowStore

from .orchestrator_fakes import (
    FakeCapabilities,
    fake_settings,
    finished,
    request,
    running,
    start_fakes,
    start_orchestrator,
)
from .test_orchestrator_recovery import _left_behind


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def timed_steps(workflow_type: str) -> float:
    return sum(
        s.value
        for f in REGISTRY.collect()
        if f.name == "aiorch_orchestrator_step_seconds"
        for s in f.samples
        if s.name.endswith("_count") and s.labels["type"] == workflow_type
    )


def waits() -> float:
    """Queue waits observed, over every priority."""
    return sum(
        s.value
        for f in REGISTRY.collect()
        if f.name == "aiorch_orchestrator_queue_wait_seconds"
        for s in f.samples
        if s.name.endswith("_count")
    )


async def test_a_finished_workflow_counts_its_type_status_step_time_and_queue_wait(suite):
    finished = {"type": "classification", "status": "succeeded"}
    before = value("aiorch_orchestrator_workflows_total", **finished)
    steps = timed_steps("classification")
    waited = waits()
    request = pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        use_cache=False,
        input=pb.WorkflowInput(
            text=f"Bob will send the invoice on Friday ({uuid.uuid4()}).",
            labels=[classifier_pb2.Label(name=n) for n in ("finance", "sport")],
        ),
    )
    async with suite.channel("orchestrator") as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        workflow = (await stub.CreateWorkflow(request, timeout=20)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert value("aiorch_orchestrator_workflows_total", **finished) == before + 1
    after = timed_steps("classification")
    ran = [s for s in workflow.steps if s.HasField("started_at")]  # not the skipped
    assert after == steps + len(ran) > steps
    assert waits() == waited + 1  # the workflow's wait in the queue, as a histogram
    assert value("aiorch_orchestrator_queue_wait_seconds_bucket", priority="normal", le="+Inf") > 0


async def test_queues_breakers_and_cache_are_read_at_scrape_time(suite):
    names = {s.name: s for f in REGISTRY.collect() for s in f.samples}
    assert value("aiorch_orchestrator_queue_depth", priority="normal") == 0
    assert value("aiorch_orchestrator_breaker_state", service="classifier") == 0  # closed
    assert "aiorch_orchestrator_cache_lookups_total" in names


async def test_work_taken_over_from_a_dead_orchestrator_is_counted(tmp_path):
    before = value("aiorch_orchestrator_takeovers_total")
    async with contextlib.AsyncExitStack() as stack:
        settings = fake_settings(tmp_path, await start_fakes(stack, FakeCapabilities()))
        db = await Database.open(settings.database_url.get_secret_value())
        stack.push_async_callback(db.close)
        store = await WorkflowStore.open(db)
        lapsed = int(time.time() * 1000) - 1
        left = await _left_behind(store, settings, pb.WORKFLOW_STATUS_PENDING, "dead", lapsed)
        _, stub, _ = await start_orchestrator(stack, settings)
        assert (await finished(stub, left.workflow_id)).status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert value("aiorch_orchestrator_takeovers_total") == before + 1


async def test_a_step_retried_after_a_transient_failure_counts_its_retries(tmp_path):
    before = value("aiorch_orchestrator_step_retries_total", service="classifier")
    async with running(tmp_path) as (fake, stub):
        fake.errors["Classify"] = [Unavailable("restarting"), Unavailable("restarting")]
        workflow = (await stub.CreateWorkflow(request(), timeout=10)).workflow
    assert (workflow.status, workflow.steps[0].attempts) == (pb.WORKFLOW_STATUS_SUCCEEDED, 3)
    assert value("aiorch_orchestrator_step_retries_total", service="classifier") == before + 2
