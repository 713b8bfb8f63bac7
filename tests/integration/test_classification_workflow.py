"""CreateWorkflow and GetWorkflow over real servers: orchestrator -> classifier -> embeddings."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from datetime import timedelta
from urllib.parse import urlparse

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc, orchestrator_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import field_violations
from services.orchestrator.__main__ import build as build_orchestrator
from tests.callers import channel_as

from .conftest import start_service

LABELS = ["finance", "sport", "cooking"]


def valid_request(**changes) -> pb.CreateWorkflowRequest:
    request = pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        input=pb.WorkflowInput(
            text="The board approved the budget and Bob will send the invoice on Friday.",
            labels=[classifier_pb2.Label(name=name) for name in LABELS],
        ),
    )
    for field, value in changes.items():
        setattr(request, field, value)
    return request


@pytest.fixture
async def orchestrator(suite):
    async with suite.channel("orchestrator") as channel:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)


def stored_with_key(suite, key: str) -> int:
    """Workflows stored under idempotency key `key`. (Not a count of all rows: an earlier
    test's sync workflow writes its record after its reply, at any moment.)"""
    path = urlparse(suite.settings.database_url.get_secret_value()).path
    with contextlib.closing(sqlite3.connect(path)) as db:
        query = "SELECT COUNT(*) FROM workflows WHERE idempotency_key = ?"
        return db.execute(query, (key,)).fetchone()[0]


async def test_classification_scores_every_label_and_is_stored(orchestrator):
    workflow = (await orchestrator.CreateWorkflow(valid_request(), timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    classification = workflow.result.classification
    assert classification.label == "finance"
    assert sorted(s.label for s in classification.scores) == sorted(LABELS)
    assert sum(s.score for s in classification.scores) == pytest.approx(1.0)
    assert [s.state for s in workflow.steps] == [pb.STEP_STATE_SUCCEEDED, pb.STEP_STATE_SKIPPED]
    assert workflow.usage.input_tokens > 0
    again = await orchestrator.GetWorkflow(pb.GetWorkflowRequest(workflow_id=workflow.workflow_id))
    assert again.workflow == workflow


async def test_asking_for_the_embedding_runs_the_embed_step(orchestrator):
    request = valid_request()
    request.expected_outputs.extend(["label", "embedding"])
    workflow = (await orchestrator.CreateWorkflow(request, timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED
    assert len(workflow.result.embedding.embeddings[0].values) == 384


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda r: setattr(r, "type", "astrology"), "type"),
        (lambda r: setattr(r.input, "text", ""), "input.text"),
        (lambda r: setattr(r.input, "text", "x" * 100_001), "input.text"),
        (lambda r: r.input.labels.add(name="Sport"), "input.labels[3].name"),
        (lambda r: r.input.labels.add(name=""), "input.labels[3].name"),
        (lambda r: r.expected_outputs.append("horoscope"), "expected_outputs[0]"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field_and_stores_nothing(
    suite, orchestrator, change, field
):
    key = uuid.uuid4().hex
    request = valid_request(idempotency_key=key)
    change(request)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.CreateWorkflow(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(caught.value))
    assert stored_with_key(suite, key) == 0
    # The same key on a valid request is stored (at intake, before the reply).
    await orchestrator.CreateWorkflow(valid_request(idempotency_key=key), timeout=10)
    assert stored_with_key(suite, key) == 1


async def test_unknown_workflow_id_is_not_found_and_a_malformed_one_is_invalid(orchestrator):
    unknown = pb.GetWorkflowRequest(workflow_id="00000000-0000-4000-8000-000000000000")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.GetWorkflow(unknown)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.GetWorkflow(pb.GetWorkflowRequest(workflow_id="../etc"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_budget_too_short_for_the_work_ends_deadline_exceeded_in_time(orchestrator):
    request = valid_request(timeout=timedelta(milliseconds=1), use_cache=False)
    workflow = (await orchestrator.CreateWorkflow(request, timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED
    assert workflow.steps[0].error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]


class _RecordingClassifier(classifier_pb2_grpc.ClassifierServiceServicer):
    """A classifier that records the deadline each call arrives with."""

    def __init__(self):
        self.time_remaining = []

    async def Classify(self, request, context):
        self.time_remaining.append(context.time_remaining())
        return classifier_pb2.ClassifyResponse(label=request.labels[0].name, score=1.0)


async def test_the_classifier_call_carries_the_workflows_remaining_time(suite):
    recorder = _RecordingClassifier()
    async with contextlib.AsyncExitStack() as stack:
        server = grpc.aio.server()
        classifier_pb2_grpc.add_ClassifierServiceServicer_to_server(recorder, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        stack.push_async_callback(server.stop, 0)
        settings = suite.settings.model_copy(update={"classifier_addr": f"127.0.0.1:{port}"})
        _, settings = await start_service("orchestrator", build_orchestrator, settings, stack)
        async with channel_as(settings.orchestrator_addr) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            request = valid_request(timeout=timedelta(seconds=3), use_cache=False)
            await stub.CreateWorkflow(request, timeout=10)
            await stub.CreateWorkflow(valid_request(use_cache=False), timeout=1)
    assert 2.5 < recorder.time_remaining[0] < 3.0
    assert 0.5 < recorder.time_remaining[1] < 1.0


async def test_an_unreachable_classifier_fails_the_workflow_with_unavailable(suite, tmp_path):
    # The call waits for the classifier (a restart is ridden out) until it has been
    # unreachable for the fail-fast time, then the step fails with the reason.
    changes = {"classifier_addr": "127.0.0.1:1", "unreachable_fail_fast_seconds": 0.5}
    settings = suite.settings.model_copy(update=changes)
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("orchestrator", build_orchestrator, settings, stack)
        async with channel_as(settings.orchestrator_addr) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            workflow = (await stub.CreateWorkflow(valid_request(), timeout=10)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_FAILED
    assert workflow.error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert workflow.error.message.startswith("step classify: classifier has been unreachable")
