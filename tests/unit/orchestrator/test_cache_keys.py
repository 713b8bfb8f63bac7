from aiorch.v1 import classifier_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.cache_keys import backend_versions, cache_key
from services.orchestrator.workflows import WORKFLOWS

CLASSIFICATION = WORKFLOWS["classification"]


def given(text="Bob sends the invoice.") -> pb.WorkflowInput:
    return pb.WorkflowInput(text=text, labels=[classifier_pb2.Label(name="finance")])


def test_the_key_names_the_type_and_is_the_same_for_the_same_request(settings):
    versions = backend_versions(settings)
    key = cache_key(CLASSIFICATION, given(), ["label"], versions)
    assert key.startswith("classification:") and len(key) == len("classification:") + 64
    assert (
        cache_key(CLASSIFICATION, given("  Bob sends the invoice.\n"), ["label"], versions) == key
    )


def test_input_outputs_and_versions_each_change_the_key(settings):
    versions = backend_versions(settings)
    key = cache_key(CLASSIFICATION, given(), ["label", "scores"], versions)
    assert cache_key(CLASSIFICATION, given(), ["scores", "label"], versions) == key
    assert cache_key(CLASSIFICATION, given(), ["label", "keywords"], versions) != key
    assert cache_key(CLASSIFICATION, given("Other text."), ["label", "scores"], versions) != key
    other = settings.model_copy(update={"embeddings_max_tokens": 128})
    assert cache_key(CLASSIFICATION, given(), ["label", "scores"], backend_versions(other)) != key


def test_a_model_a_type_does_not_use_does_not_change_its_key(settings):
    openai_meetings = settings.model_copy(update={"meeting_intel_backend": "openai"})
    assert cache_key(
        WORKFLOWS["embedding"], given(), ["embedding"], backend_versions(settings)
    ) == (
        cache_key(WORKFLOWS["embedding"], given(), ["embedding"], backend_versions(openai_meetings))
    )
