"""What each RPC a step may name is called with, from the workflow's input, and where its
reply goes in the workflow's result."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message

from aiorch.v1 import assistant_pb2, classifier_pb2, embeddings_pb2, meeting_intel_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.workflows import WORKFLOWS


def document_text(given: pb.WorkflowInput, max_chars: int) -> str:
    """The input as one text: the text, or a transcript's segments as "speaker: text" lines
    (cut to what a text-only service accepts; a model reads far less anyway)."""
    text = given.text or "\n".join(
        f"{s.speaker}: {s.text}" if s.speaker else s.text for s in given.segments
    )
    return text[:max_chars]


def _classify(request, workflow, step, max_chars: int) -> classifier_pb2.ClassifyRequest:
    declared = WORKFLOWS[workflow.type].step(step.name)
    wanted = {*(set(workflow.expected_outputs) & set(declared.outputs)), *declared.extras}
    return classifier_pb2.ClassifyRequest(
        text=document_text(request.input, max_chars),
        labels=request.input.labels,
        taxonomy=request.input.taxonomy,
        label_set_id=request.input.label_set_id,
        include_keywords="keywords" in wanted,
        include_summary="summary" in wanted,
    )


def _analyze(request, workflow, step, max_chars: int) -> meeting_intel_pb2.AnalyzeRequest:
    given = request.input
    analyze = meeting_intel_pb2.AnalyzeRequest(
        transcript=given.text, segments=given.segments, meeting_date=given.meeting_date
    )
    length = given.WhichOneof("summary_length")
    if length is not None:
        setattr(analyze, length, getattr(given, length))
    return analyze


def _embed(request, workflow, step, max_chars: int) -> embeddings_pb2.EmbedRequest:
    return embeddings_pb2.EmbedRequest(texts=[document_text(request.input, max_chars)])


def _index(request, workflow, step, max_chars: int) -> assistant_pb2.IndexDocumentRequest:
    """The meeting's transcript for the caller's knowledge store, under a source id made
    from its text: indexing the same meeting again replaces it instead of adding a copy."""
    text = document_text(request.input, max_chars)
    source_id = "meeting-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    date = request.input.meeting_date
    return assistant_pb2.IndexDocumentRequest(
        source_id=source_id, title=f"Meeting {date or source_id}", text=text
    )


def _chat(request, workflow, step, max_chars: int) -> assistant_pb2.ChatRequest:
    given = request.input
    return assistant_pb2.ChatRequest(session_id=given.session_id, message=given.text)


@dataclass(frozen=True)
class Rpc:
    # (request, workflow, step, max text chars) -> the RPC's request message
    request: Callable[[pb.CreateWorkflowRequest, pb.Workflow, pb.Step, int], Message]
    result_field: str  # the field of WorkflowResult its reply fills


RPCS = {
    "Classify": Rpc(_classify, "classification"),
    "Analyze": Rpc(_analyze, "meeting"),
    "Embed": Rpc(_embed, "embedding"),
    "IndexDocument": Rpc(_index, "indexed"),
    "Chat": Rpc(_chat, "answer"),
}
