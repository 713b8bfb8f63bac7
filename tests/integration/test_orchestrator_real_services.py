"""meeting_intelligence and hybrid workflows over the real services: orchestrator ->
meeting_intel, classifier -> embeddings, all in process."""

from __future__ import annotations

import contextlib

import grpc
import pytest

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.meeting_intel.__main__ import build as build_meeting_intel

from .conftest import start_service
from .orchestrator_fakes import start_orchestrator

TRANSCRIPT = """Ann: Thanks for joining. We need to ship the billing release this month.
Bob: I will send the updated invoice template to finance by Friday.
Ann: Good. We decided to move the launch to the first of June.
Carol: Who owns the customer email for the launch?
Ann: Carol, please draft the customer email by next Wednesday.
Carol: Okay, I will draft it.
"""


@pytest.fixture(scope="module")
async def orchestrator(suite):
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service(
            "meeting_intel", build_meeting_intel, suite.settings, stack
        )
        _, stub, _ = await start_orchestrator(stack, settings)
        yield stub


def meeting(**changes) -> pb.CreateWorkflowRequest:
    request = pb.CreateWorkflowRequest(
        type="meeting_intelligence",
        wait=True,
        use_cache=False,
        input=pb.WorkflowInput(
            text=TRANSCRIPT,
            meeting_date="2026-05-04",
            labels=[classifier_pb2.Label(name=n) for n in ("finance", "sport", "cooking")],
        ),
    )
    for field, value in changes.items():
        setattr(request, field, value)
    return request


async def test_a_meeting_is_analyzed_and_classified(orchestrator):
    request = meeting()
    request.expected_outputs.extend(["speakers", "action_items", "summary", "label"])
    workflow = (await orchestrator.CreateWorkflow(request, timeout=30)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow.error
    analysis = workflow.result.meeting
    assert {s.name for s in analysis.speakers} == {"Ann", "Bob", "Carol"}
    assert analysis.action_items and analysis.summary
    assert workflow.result.classification.label in ("finance", "sport", "cooking")
    assert workflow.usage.input_tokens > 0


async def test_a_transcript_the_service_cannot_read_fails_the_workflow_with_its_reason(
    orchestrator,
):
    request = meeting()
    request.input.text = "..."
    workflow = (await orchestrator.CreateWorkflow(request, timeout=30)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_FAILED
    assert workflow.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert workflow.error.message.startswith("step analyze:")


async def test_hybrid_gives_every_branch_over_the_same_transcript(orchestrator):
    workflow = (await orchestrator.CreateWorkflow(meeting(type="hybrid"), timeout=60)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow.error
    assert workflow.result.classification.keywords
    assert workflow.result.meeting.speakers
    assert len(workflow.result.embedding.embeddings[0].values) == 384


async def test_a_meeting_workflow_asks_the_summary_length_it_was_given(orchestrator):
    default = (await orchestrator.CreateWorkflow(meeting(), timeout=30)).workflow
    request = meeting()
    request.input.summary_words = 12
    short = (await orchestrator.CreateWorkflow(request, timeout=30)).workflow
    assert short.status == default.status == pb.WORKFLOW_STATUS_SUCCEEDED, short.error
    words = len(short.result.meeting.summary.split())
    assert 0 < words <= 12 < len(default.result.meeting.summary.split())


async def test_a_classification_workflow_uses_a_registered_label_set(suite, orchestrator):
    labels = [
        classifier_pb2.Label(name="sport", examples=["A late goal won the match."]),
        classifier_pb2.Label(name="finance", examples=["The invoice is due on Friday."]),
    ]
    async with suite.channel("classifier") as channel:
        registered = await classifier_pb2_grpc.ClassifierServiceStub(channel).RegisterLabelSet(
            classifier_pb2.RegisterLabelSetRequest(labels=labels), timeout=30
        )
    request = pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        input=pb.WorkflowInput(
            text="The keeper saved a penalty in extra time.",
            label_set_id=registered.label_set_id,
        ),
    )
    workflow = (await orchestrator.CreateWorkflow(request, timeout=30)).workflow
    assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow.error
    assert workflow.result.classification.label == "sport"
