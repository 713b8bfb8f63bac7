import pytest

from services.orchestrator.workflows import WORKFLOWS, StepSpec, WorkflowSpec


def test_the_contract_types_are_declared_with_defaults_each_type_can_give():
    assert set(WORKFLOWS) == {
        "classification",
        "meeting_intelligence",
        "hybrid",
        "embedding",
        "assistant",
    }
    for spec in WORKFLOWS.values():
        assert set(spec.default_outputs) <= set(spec.outputs)
        assert {step.service for step in spec.steps} <= {
            "classifier",
            "meeting_intel",
            "embeddings",
            "assistant",
        }


def test_the_outputs_asked_pick_the_steps_that_run():
    spec = WORKFLOWS["classification"]
    assert [(s.name, needed) for s, needed in spec.steps_for(("label",))] == [
        ("classify", True),
        ("embed", False),
    ]
    assert [needed for _, needed in spec.steps_for(("embedding",))] == [False, True]


def test_hybrid_has_one_optional_branch_per_type_it_combines():
    hybrid = WORKFLOWS["hybrid"]
    assert hybrid.outputs == ("classification", "meeting_intelligence", "embedding")
    assert not any(step.required for step in hybrid.steps)
    assert hybrid.step("classify").extras == ("keywords", "summary")


def test_meeting_intelligence_requires_the_analysis_and_classifies_optionally():
    spec = WORKFLOWS["meeting_intelligence"]
    assert spec.step("analyze").required and not spec.step("classify").required
    assert "label" not in spec.default_outputs


def test_a_meeting_is_indexed_for_the_assistant_only_when_indexed_is_asked_for():
    spec = WORKFLOWS["meeting_intelligence"]
    index = spec.step("index")
    assert (index.service, index.rpc, index.outputs) == ("assistant", "IndexDocument", ("indexed",))
    assert not index.required and "indexed" not in spec.default_outputs
    needed = dict((s.name, n) for s, n in spec.steps_for(spec.default_outputs))
    assert not needed["index"]
    assert dict((s.name, n) for s, n in spec.steps_for(("summary", "indexed")))["index"]


def test_a_declaration_with_two_steps_giving_one_output_is_refused():
    step = StepSpec("a", "classifier", "Classify", ("label",), True)
    with pytest.raises(ValueError, match="same output"):
        WorkflowSpec("twice", "", (step, step), ("label",))


def test_timeouts_and_ttls_come_from_settings_per_type(settings):
    assert WORKFLOWS["classification"].timeout(settings) == settings.classification_timeout_seconds
    assert WORKFLOWS["hybrid"].timeout(settings) == settings.hybrid_timeout_seconds
    assert WORKFLOWS["embedding"].cache_ttl(settings) == settings.embedding_cache_ttl_seconds
