"""Workflow types, declared as data: the executor runs these declarations and
ListWorkflowTypes reads them, so what is listed is what runs.

A step names the service and RPC it calls and the outputs it gives; a request's
expected_outputs pick the steps that run. Every step of a type works on the same input and
none needs another's result, so the steps of a workflow run in parallel: its latency is
that of its slowest step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.orchestrator.settings import OrchestratorSettings

MEETING_OUTPUTS = ("speakers", "action_items", "decisions", "questions", "topics", "summary")


@dataclass(frozen=True)
class StepSpec:
    name: str
    service: str
    rpc: str
    outputs: tuple[str, ...]
    required: bool
    # Extras the step always asks its RPC for, whatever outputs were asked
    # (e.g. the hybrid's classification branch always wants keywords and a summary).
    extras: tuple[str, ...] = ()
    # The step changes what its service keeps (the assistant's index): a workflow that
    # runs it must call it every time, so it is neither served from nor put in the cache.
    writes: bool = False


@dataclass(frozen=True)
class WorkflowSpec:
    name: str
    description: str
    steps: tuple[StepSpec, ...]
    default_outputs: tuple[str, ...]
    # The service whose context version keys this type's results beside the request
    # (services/orchestrator/contexts.py); empty: the request alone decides the result.
    context: str = ""
    # The steps that change something (their results are never cached), known once.
    writers: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self):
        object.__setattr__(self, "writers", frozenset(s.name for s in self.steps if s.writes))
        outputs = self.outputs
        if len(set(outputs)) != len(outputs):
            raise ValueError(f"{self.name}: two steps give the same output")
        if not set(self.default_outputs) <= set(outputs):
            raise ValueError(f"{self.name}: a default output no step gives")

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(output for step in self.steps for output in step.outputs)

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.service for step in self.steps))

    def step(self, name: str) -> StepSpec:
        return next(step for step in self.steps if step.name == name)

    def steps_for(self, outputs: tuple[str, ...]) -> list[tuple[StepSpec, bool]]:
        """Every step, and whether the asked outputs need it."""
        return [(step, any(o in step.outputs for o in outputs)) for step in self.steps]

    def timeout(self, settings: OrchestratorSettings) -> float:
        """Time budget of a workflow of this type that sets none."""
        return {
            "classification": settings.classification_timeout_seconds,
            "meeting_intelligence": settings.meeting_intelligence_timeout_seconds,
            "hybrid": settings.hybrid_timeout_seconds,
            "embedding": settings.embedding_timeout_seconds,
            "assistant": settings.assistant_timeout_seconds,
        }[self.name]

    def cache_ttl(self, settings: OrchestratorSettings) -> float:
        return {
            "classification": settings.classification_cache_ttl_seconds,
            "meeting_intelligence": settings.meeting_intelligence_cache_ttl_seconds,
            "hybrid": settings.hybrid_cache_ttl_seconds,
            "embedding": settings.embedding_cache_ttl_seconds,
            "assistant": settings.assistant_cache_ttl_seconds,
        }[self.name]


def _classify(outputs, required, extras=()) -> StepSpec:
    return StepSpec("classify", "classifier", "Classify", outputs, required, extras)


def _analyze(outputs) -> StepSpec:
    return StepSpec("analyze", "meeting_intel", "Analyze", outputs, required=True)


def _embed(outputs, required) -> StepSpec:
    return StepSpec("embed", "embeddings", "Embed", outputs, required)


WORKFLOWS = {
    spec.name: spec
    for spec in (
        WorkflowSpec(
            name="classification",
            description="Labels a document with a score for every label; optionally its "
            "keywords, a summary and its embedding.",
            steps=(
                _classify(("label", "scores", "keywords", "summary"), required=True),
                _embed(("embedding",), required=False),
            ),
            default_outputs=("label", "scores"),
        ),
        WorkflowSpec(
            name="meeting_intelligence",
            description="Analyzes a meeting transcript: speakers and talk time, action items "
            "with owner and due date, decisions, open questions, topics and a summary; "
            "optionally labels the meeting (ask for label or scores, give labels or a "
            "taxonomy), and indexes its transcript in the caller's knowledge store for the "
            "assistant (ask for indexed).",
            steps=(
                _analyze(MEETING_OUTPUTS),
                _classify(("label", "scores"), required=False),
                StepSpec("index", "assistant", "IndexDocument", ("indexed",), False, writes=True),
            ),
            default_outputs=MEETING_OUTPUTS,
        ),
        WorkflowSpec(
            name="hybrid",
            description="Runs the classification, meeting_intelligence and embedding "
            "workflows in parallel over the same input; each output names a branch. A "
            "branch that fails leaves the others' results (PARTIAL).",
            steps=(
                _classify(("classification",), required=False, extras=("keywords", "summary")),
                StepSpec("analyze", "meeting_intel", "Analyze", ("meeting_intelligence",), False),
                _embed(("embedding",), required=False),
            ),
            default_outputs=("classification", "meeting_intelligence", "embedding"),
        ),
        WorkflowSpec(
            name="embedding",
            description="The embedding of a text (one vector for the whole input).",
            steps=(_embed(("embedding",), required=True),),
            default_outputs=("embedding",),
        ),
        WorkflowSpec(
            name="assistant",
            description="Answers a question (text) from the caller's own documents and "
            "meetings, citing the passages it used, in the assistant session given "
            "(session_id) or a new one. An answer is cached for the question, the caller's "
            "knowledge and the session as they were: a document indexed or a turn added "
            "since computes a new one. A cached answer is stored in no session.",
            # The answer is stored in the session as it is made, which Chat does itself: a
            # cached answer is that same exchange, so the step is not one that `writes`.
            steps=(StepSpec("answer", "assistant", "Chat", ("answer",), required=True),),
            default_outputs=("answer",),
            context="assistant",
        ),
    )
}
