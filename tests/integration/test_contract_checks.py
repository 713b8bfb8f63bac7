"""The orchestrator and the capability reject the same bad transcript or labels with the
same INVALID_ARGUMENT field violation, in the same words (services/common/contract_checks.py):
the orchestrator's fields sit under `input.`, and its `text` is the capability's own text
field (`transcript` for meeting_intel)."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import (
    classifier_pb2,
    classifier_pb2_grpc,
    meeting_intel_pb2_grpc,
    orchestrator_pb2_grpc,
)
from aiorch.v1 import meeting_intel_pb2 as mi
from aiorch.v1 import orchestrator_pb2 as pb
from services.classifier.__main__ import build as build_classifier
from services.common.errors import field_violations
from services.embeddings.__main__ import build as build_embeddings
from services.meeting_intel.__main__ import build as build_meeting_intel
from services.orchestrator.__main__ import build as build_orchestrator
from tests.callers import channel_as
from tests.integration.conftest import start_service

SEGMENT = mi.TranscriptSegment(speaker="Ann", text="We will ship on Friday.")


@pytest.fixture(scope="module")
async def stubs(settings):
    settings = settings.model_copy(
        update={"meeting_intel_max_chars": 400, "meeting_intel_max_segments": 3}
    )
    async with contextlib.AsyncExitStack() as stack:
        for name, build in (
            ("embeddings", build_embeddings),
            ("classifier", build_classifier),
            ("meeting_intel", build_meeting_intel),
            ("orchestrator", build_orchestrator),
        ):
            _, settings = await start_service(name, build, settings, stack)
        channels = {}
        for name in ("classifier", "meeting_intel", "orchestrator"):
            channels[name] = channel_as(settings.addr_of(name))
            stack.push_async_callback(channels[name].close)
        yield (
            orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"]),
            classifier_pb2_grpc.ClassifierServiceStub(channels["classifier"]),
            meeting_intel_pb2_grpc.MeetingIntelServiceStub(channels["meeting_intel"]),
        )


async def _violations(call) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return field_violations(rpc_status.from_call(caught.value))


async def _refusals(direct, orchestrator, workflow_type: str, given: pb.WorkflowInput):
    """The violations of the capability's call `direct`, and of the same input as a
    workflow of `workflow_type`."""
    request = pb.CreateWorkflowRequest(type=workflow_type, input=given, wait=True)
    return await _violations(direct), await _violations(
        orchestrator.CreateWorkflow(request, timeout=30)
    )


@pytest.mark.parametrize(
    ("transcript", "segments", "meeting_date", "field"),
    [
        ("   ", [], "", "transcript"),
        ("Ann: " + "word " * 100, [], "", "transcript"),
        ("Ann: Hello.", [SEGMENT], "", "segments"),
        ("", [SEGMENT] * 4, "", "segments"),
        ("", [mi.TranscriptSegment(speaker="Ann", text="  ")], "", "segments"),
        ("", [mi.TranscriptSegment(speaker="Ann", text="word " * 100)], "", "segments"),
        ("Ann: Hello.", [], "next Tuesday", "meeting_date"),
    ],
)
async def test_a_bad_transcript_is_refused_alike_by_orchestrator_and_meeting_intel(
    stubs, transcript, segments, meeting_date, field
):
    orchestrator, _, meeting_intel = stubs
    direct, workflow = await _refusals(
        meeting_intel.Analyze(
            mi.AnalyzeRequest(transcript=transcript, segments=segments, meeting_date=meeting_date),
            timeout=30,
        ),
        orchestrator,
        "meeting_intelligence",
        pb.WorkflowInput(text=transcript, segments=segments, meeting_date=meeting_date),
    )
    ours = "text" if field == "transcript" else field
    assert list(direct) == [field] and list(workflow) == [f"input.{ours}"]
    assert workflow[f"input.{ours}"] == direct[field].replace("transcript or", "text or")


@pytest.mark.parametrize(
    ("labels", "taxonomy", "label_set_id", "field"),
    [
        ([], "colours", "", "taxonomy"),
        ([], "", "", "labels"),
        (
            [classifier_pb2.Label(name="news"), classifier_pb2.Label(name="News")],
            "",
            "",
            "labels[1].name",
        ),
        ([classifier_pb2.Label(name=" ")], "", "", "labels[0].name"),
        ([classifier_pb2.Label(name="a", examples=[""])], "", "", "labels[0].examples[0]"),
        ([], "", "not-a-set", "label_set_id"),
    ],
)
async def test_bad_labels_are_refused_alike_by_orchestrator_and_classifier(
    stubs, labels, taxonomy, label_set_id, field
):
    orchestrator, classifier, _ = stubs
    text = "Quarterly revenue grew by ten percent."
    given = {"text": text, "labels": labels, "taxonomy": taxonomy, "label_set_id": label_set_id}
    direct, workflow = await _refusals(
        classifier.Classify(classifier_pb2.ClassifyRequest(**given), timeout=30),
        orchestrator,
        "classification",
        pb.WorkflowInput(**given),
    )
    assert direct == {field: direct[field]} and workflow == {f"input.{field}": direct[field]}


@pytest.mark.parametrize(
    ("length", "field"),
    [({"summary_words": 0}, "summary_words"), ({"summary_ratio": 1.5}, "summary_ratio")],
)
async def test_a_bad_summary_length_is_refused_alike_by_orchestrator_and_meeting_intel(
    stubs, length, field
):
    orchestrator, _, meeting_intel = stubs
    transcript = "Ann: We will ship on Friday."
    direct, workflow = await _refusals(
        meeting_intel.Analyze(mi.AnalyzeRequest(transcript=transcript, **length), timeout=30),
        orchestrator,
        "meeting_intelligence",
        pb.WorkflowInput(text=transcript, **length),
    )
    assert direct == {field: direct[field]} and workflow == {f"input.{field}": direct[field]}
