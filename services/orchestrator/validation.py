"""Checks of a workflow request before anything is stored; each names its field."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.contract_checks import (
    check_labels,
    check_question,
    check_transcript,
    meeting_date,
    requested_summary_length,
)
from services.common.errors import InvalidInput
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.workflows import WORKFLOWS, WorkflowSpec

MAX_IDEMPOTENCY_KEY_CHARS = 200


@dataclass(frozen=True)
class Plan:
    """A valid request: its type, the outputs it asks (defaults filled in), its budget."""

    spec: WorkflowSpec
    outputs: list[str]
    budget: float | None  # seconds; None: the type's default

    @property
    def needed(self) -> set[str]:
        return {step.name for step, wanted in self.spec.steps_for(tuple(self.outputs)) if wanted}


def validate_create(request: pb.CreateWorkflowRequest, settings: OrchestratorSettings) -> Plan:
    spec = _spec(request.type)
    outputs = list(dict.fromkeys(request.expected_outputs)) or list(spec.default_outputs)
    for i, output in enumerate(outputs):
        if output not in spec.outputs:
            raise InvalidInput(
                f"expected_outputs[{i}]",
                f"{spec.name} cannot give {output!r}; it gives {', '.join(spec.outputs)}",
            )
    if request.priority not in pb.Priority.values():
        raise InvalidInput("priority", f"unknown priority {request.priority}")
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidInput("idempotency_key", f"longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in request.idempotency_key):
        # A key is stored as text, and PostgreSQL text cannot hold NUL.
        raise InvalidInput("idempotency_key", "must not contain control characters")
    plan = Plan(spec, outputs, _budget(request))
    _check_input(request.input, plan.needed, settings)
    return plan


def _check_input(given: pb.WorkflowInput, needed: set[str], settings: OrchestratorSettings) -> None:
    """The checks the capabilities make of the same fields, in the same words."""
    meeting = "analyze" in needed
    limit = settings.meeting_intel_max_chars if meeting else settings.max_text_chars
    try:
        check_transcript(
            given.text, given.segments, "text", limit, settings.meeting_intel_max_segments
        )
        meeting_date(given.meeting_date)
        if "classify" in needed:
            check_labels(
                given.labels,
                given.taxonomy,
                settings.max_labels,
                settings.max_text_chars,
                given.label_set_id,
            )
        if "analyze" in needed:
            requested_summary_length(given)
        if "answer" in needed:
            check_question(given.text, given.session_id, "text")
    except InvalidInput as error:
        raise error.under("input") from None


def _spec(name: str) -> WorkflowSpec:
    if name in WORKFLOWS:
        return WORKFLOWS[name]
    known = ", ".join(sorted(WORKFLOWS))
    raise InvalidInput("type", f"unknown workflow type {name!r}; known: {known}")


def _budget(request: pb.CreateWorkflowRequest) -> float | None:
    budgets = []
    if request.HasField("timeout"):
        seconds = request.timeout.ToTimedelta().total_seconds()
        if seconds <= 0:
            raise InvalidInput("timeout", "must be positive")
        budgets.append(seconds)
    if request.HasField("deadline"):
        seconds = request.deadline.ToNanoseconds() / 1e9 - time.time()
        if seconds <= 0:
            raise InvalidInput("deadline", "is already past")
        budgets.append(seconds)
    return min(budgets, default=None)


def validate_batch(request: pb.CreateBatchRequest, settings: OrchestratorSettings) -> int:
    """The batch's parallelism; its items are checked one by one as they are accepted."""
    if not request.items:
        raise InvalidInput("items", "must hold at least one workflow")
    if len(request.items) > settings.batch_max_items:
        raise InvalidInput(
            "items",
            f"has {len(request.items)} workflows, more than the limit of "
            f"{settings.batch_max_items}",
        )
    parallelism = request.max_parallelism or settings.batch_default_parallelism
    if not 0 < parallelism <= settings.batch_max_parallelism:
        raise InvalidInput(
            "max_parallelism", f"must be between 1 and {settings.batch_max_parallelism}"
        )
    return parallelism
