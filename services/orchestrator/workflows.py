"""Workflow types, declared as data: the executor runs these declarations and
ListWorkflowTypes reads them, so what is listed is what runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepSpec:
    name: str
    service: str
    rpc: str
    outputs: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    default_outputs: tuple[str, ...]

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(output for step in self.steps for output in step.outputs)

    def steps_for(self, outputs: tuple[str, ...]) -> list[tuple[StepSpec, bool]]:
        """Every step, and whether the asked outputs need it."""
        return [(step, any(o in step.outputs for o in outputs)) for step in self.steps]


WORKFLOWS = {
    spec.name: spec
    for spec in (
        WorkflowSpec(
            name="classification",
            description="Labels a document with a score for every label; optionally its "
            "keywords, a summary and its embedding.",
            steps=(
                StepSpec(
                    "classify",
                    "classifier",
                    "Classify",
                    ("label", "scores", "keywords", "summary"),
                    required=True,
                ),
                StepSpec("embed", "embeddings", "Embed", ("embedding",), required=False),
            ),
            default_outputs=("label", "scores"),
        ),
    )
}

# Types the contract names whose executors are not built yet: they answer UNIMPLEMENTED
# rather than "unknown type".
PLANNED = ("meeting_intelligence", "hybrid", "embedding")
