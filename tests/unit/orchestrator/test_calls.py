import hashlib

from aiorch.v1 import meeting_intel_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.calls import RPCS

SEGMENTS = [
    meeting_intel_pb2.TranscriptSegment(speaker="Ann", text="We ship in June."),
    meeting_intel_pb2.TranscriptSegment(text="Agreed."),
]


def index_request(given: pb.WorkflowInput, max_chars=100_000):
    request = pb.CreateWorkflowRequest(type="meeting_intelligence", input=given)
    workflow = pb.Workflow(type="meeting_intelligence", expected_outputs=["indexed"])
    return RPCS["IndexDocument"].request(request, workflow, pb.Step(name="index"), max_chars)


def test_a_meeting_is_indexed_as_speaker_lines_under_an_id_made_from_its_text():
    indexed = index_request(pb.WorkflowInput(segments=SEGMENTS, meeting_date="2026-05-04"))
    text = "Ann: We ship in June.\nAgreed."
    assert indexed.text == text
    assert indexed.source_id == "meeting-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    assert indexed.title == "Meeting 2026-05-04"
    assert RPCS["IndexDocument"].result_field == "indexed"


def test_the_same_meeting_gets_the_same_source_id_and_a_title_without_a_date():
    first = index_request(pb.WorkflowInput(text="Ann: We ship in June."))
    second = index_request(pb.WorkflowInput(text="Ann: We ship in June."))
    other = index_request(pb.WorkflowInput(text="Bob: We ship in July."))
    assert first.source_id == second.source_id != other.source_id
    assert len(first.source_id) == len("meeting-") + 16
    assert first.title == f"Meeting {first.source_id}"


def test_the_indexed_text_is_cut_to_the_text_limit():
    assert index_request(pb.WorkflowInput(text="x" * 50), max_chars=10).text == "x" * 10
