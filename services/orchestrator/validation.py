"""Checks of a CreateWorkflowRequest before anything is stored; each names its field."""

from __future__ import annotations

import time

from aiorch.v1 import orchestrator_pb2 as pb
from services.classifier.labels import resolve_labels
from services.common.errors import InvalidInput, Unimplemented
from services.common.settings import Settings
from services.common.validation import require_text
from services.orchestrator.workflows import PLANNED, WORKFLOWS, WorkflowSpec


def validate_create(request: pb.CreateWorkflowRequest, settings: Settings):
    """The workflow's spec, its outputs and its time budget in seconds (None: type default)."""
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
    if request.idempotency_key:
        raise Unimplemented("idempotency keys are not built yet")
    if not request.wait:
        raise Unimplemented("asynchronous workflows are not built yet; set wait=true")
    require_text(request.input.text, "input.text", settings.max_text_chars)
    needed = {step.name for step, wanted in spec.steps_for(tuple(outputs)) if wanted}
    if "classify" in needed:
        try:
            resolve_labels(
                request.input.labels,
                request.input.taxonomy,
                settings.max_labels,
                settings.max_text_chars,
            )
        except InvalidInput as error:
            raise error.under("input") from None
    return spec, outputs, _budget(request)


def _spec(name: str) -> WorkflowSpec:
    if name in WORKFLOWS:
        return WORKFLOWS[name]
    if name in PLANNED:
        raise Unimplemented(f"workflow type {name!r} is not built yet")
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
