"""Request messages from plain Python values: label names, dicts in the gateway's JSON
shape, keyword arguments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from google.protobuf import json_format

from aiorch_client import transcripts
from aiorch_client._proto.aiorch.v1 import classifier_pb2 as classifier
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator

LabelLike = str | Mapping | classifier.Label
# A workflow's type name, a dict in the gateway's JSON shape, or the message itself.
RequestLike = str | Mapping | orchestrator.CreateWorkflowRequest


def label(value: LabelLike) -> classifier.Label:
    if isinstance(value, classifier.Label):
        return value
    if isinstance(value, str):
        return classifier.Label(name=value)
    return json_format.ParseDict(dict(value), classifier.Label())


def workflow_request(
    type_or_request: RequestLike,
    *,
    text: str = "",
    labels: Iterable[LabelLike] = (),
    taxonomy: str = "",
    transcript_file: str | Path | None = None,
    meeting_date: str = "",
    outputs: Iterable[str] = (),
    priority: str | orchestrator.Priority = orchestrator.PRIORITY_UNSPECIFIED,
    timeout: float | None = None,
    idempotency_key: str = "",
    use_cache: bool | None = None,
) -> orchestrator.CreateWorkflowRequest:
    """A CreateWorkflowRequest from keywords, a dict in the gateway's JSON shape, or as is."""
    if isinstance(type_or_request, orchestrator.CreateWorkflowRequest):
        return type_or_request
    if isinstance(type_or_request, Mapping):
        return json_format.ParseDict(dict(type_or_request), orchestrator.CreateWorkflowRequest())
    given = orchestrator.WorkflowInput(
        text=text, labels=[label(v) for v in labels], taxonomy=taxonomy, meeting_date=meeting_date
    )
    if transcript_file is not None:
        parsed = transcripts.request_from_file(transcript_file, meeting_date)
        given.text = parsed.transcript
        given.segments.extend(parsed.segments)  # upb's repeated fields take no slice assignment
    if isinstance(priority, str):  # "high", as the CLI and the gateway's JSON name it
        priority = orchestrator.Priority.Value(f"PRIORITY_{priority.upper()}")
    request = orchestrator.CreateWorkflowRequest(
        type=type_or_request,
        input=given,
        expected_outputs=list(outputs),
        priority=priority,
        idempotency_key=idempotency_key,
    )
    if timeout is not None:
        request.timeout.FromNanoseconds(int(timeout * 1e9))
    if use_cache is not None:
        request.use_cache = use_cache
    return request
