"""The Python client as a backend uses it: `Client(endpoint=gateway, token=...)` against the
real suite, every call over gRPC through Envoy, and the status details Envoy passes back."""

from __future__ import annotations

import uuid

import pytest
from aiorch_client import Client, InvalidArgument, NotFound, WorkflowFailed, workflow_request
from aiorch_client.types import orchestrator

from tests.e2e.test_cli import VTT

pytestmark = pytest.mark.e2e

LABELS = ["finance", "sports"]
BUDGET = (
    "The marketing budget for next year is 2 million dollars. Most of it goes to online "
    "advertising. The finance team approved it on Tuesday."
)


@pytest.fixture(scope="module")
def aiorch(suite):
    # The endpoint and token given override any of the caller's AIORCH_* settings.
    with Client(endpoint=suite.settings.gateway_addr, token=suite.token(), timeout=60) as client:
        yield client


@pytest.fixture
def source(aiorch):
    """A document of this run's own (the suite may be shared), deleted afterwards."""
    source = f"budget-{uuid.uuid4().hex[:8]}.txt"
    aiorch.index_document(source, BUDGET, "Budget")
    yield source
    aiorch.delete_document(source)


def test_classify(aiorch):
    reply = aiorch.classify("Bob will send the invoice", LABELS)
    assert reply.label == "finance"
    assert {score.label for score in reply.scores} == set(LABELS)


def test_analyze_a_vtt_file(aiorch, tmp_path):
    (tmp_path / "standup.vtt").write_text(VTT)
    reply = aiorch.analyze(file=tmp_path / "standup.vtt", meeting_date="2026-03-02")
    assert {speaker.name for speaker in reply.speakers} == {"Alice", "Bob"}
    assert any(item.owner == "Bob" for item in reply.action_items)


def test_run_returns_the_finished_workflow(aiorch):
    workflow = aiorch.run("classification", text="The match ended 2-1", labels=LABELS)
    assert workflow.status == orchestrator.WORKFLOW_STATUS_SUCCEEDED
    assert workflow.result.classification.label == "sports"


def test_start_then_watch_until_it_ends(aiorch, tmp_path):
    (tmp_path / "standup.vtt").write_text(VTT)
    started = aiorch.start("meeting_intelligence", transcript_file=tmp_path / "standup.vtt")
    assert started.workflow_id
    events = list(aiorch.watch(started.workflow_id))
    assert events and events[-1].HasField("workflow")
    last = events[-1].workflow
    assert last.workflow_id == started.workflow_id
    assert last.status == orchestrator.WORKFLOW_STATUS_SUCCEEDED
    # Step events come as they happen; one that ends before the watch begins has only its last.
    assert {step.name: step.state for step in last.steps}["analyze"] == (
        orchestrator.STEP_STATE_SUCCEEDED
    )
    assert aiorch.get(started.workflow_id).result.meeting.speakers


def test_batch_yields_each_result_with_its_error(aiorch):
    requests = [
        {"type": "classification", "input": {"text": "Bob sends the invoice", "labels": [
            {"name": "finance"}, {"name": "sports"}]}},
        {"type": "classification", "input": {"text": "no labels"}},
        workflow_request("embedding", text="embed me"),
    ]  # fmt: skip
    results = sorted(aiorch.batch(requests, concurrency=2), key=lambda r: r.index)
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].workflow.result.classification.label == "finance"
    assert isinstance(results[1].error, InvalidArgument)
    assert "input.labels" in results[1].error.field_violations


def test_stream_chat_over_an_indexed_document(aiorch, source):
    events = list(
        aiorch.stream_chat("What is the marketing budget for next year?", source_ids=[source])
    )
    *pieces, last = events
    assert pieces and all(e.delta and e.answer is None for e in pieces)
    assert last.answer is not None
    assert "".join(e.delta for e in pieces) == last.answer.answer
    assert "2 million dollars" in last.answer.answer
    assert last.answer.citations[0].source_id == source
    aiorch.delete_session(last.answer.session_id)


def test_invalid_argument_names_its_fields_through_envoy(aiorch):
    with pytest.raises(InvalidArgument) as raised:
        aiorch.classify("no labels and no taxonomy")
    assert "labels" in raised.value.field_violations
    with pytest.raises(InvalidArgument) as raised:
        aiorch.run("classification", text="x", labels=LABELS, outputs=["meeting"])
    assert "expected_outputs[0]" in raised.value.field_violations


def test_workflow_failed_carries_its_failed_steps_through_envoy(aiorch):
    # A label set id of the right shape that nobody registered passes the orchestrator's
    # checks; the classifier then answers NOT_FOUND and the workflow ends FAILED.
    request = {
        "type": "classification",
        "input": {"text": "Bob will send the invoice", "labelSetId": "ls-never-registered"},
        "useCache": False,
    }
    with pytest.raises(WorkflowFailed) as raised:
        aiorch.run(request)
    failed = raised.value
    assert failed.workflow.status == orchestrator.WORKFLOW_STATUS_FAILED
    (step,) = failed.failed_steps
    assert step.name == "classify"
    assert isinstance(step.error, NotFound)
    assert "label set not registered" in step.error.message
