from aiorch.v1 import classifier_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.orchestrator import record
from services.orchestrator.cache_keys import Keys, cache_key
from services.orchestrator.validation import validate_create
from services.orchestrator.workflows import WORKFLOWS

CLASSIFICATION = WORKFLOWS["classification"]
MODELS = {"classifier.Classify": "local/minilm"}


def given(text="Bob sends the invoice.") -> pb.WorkflowInput:
    return pb.WorkflowInput(text=text, labels=[classifier_pb2.Label(name="finance")])


def test_the_key_names_the_type_and_is_the_same_for_the_same_request():
    key = cache_key(CLASSIFICATION, given(), ["label"], MODELS, "alice")
    assert key.startswith("classification:") and len(key) == len("classification:") + 64
    assert (
        cache_key(CLASSIFICATION, given("  Bob sends the invoice.\n"), ["label"], MODELS, "alice")
        == key
    )


def test_input_outputs_and_models_each_change_the_key():
    key = cache_key(CLASSIFICATION, given(), ["label", "scores"], MODELS, "alice")
    assert cache_key(CLASSIFICATION, given(), ["scores", "label"], MODELS, "alice") == key
    assert cache_key(CLASSIFICATION, given(), ["label", "keywords"], MODELS, "alice") != key
    assert (
        cache_key(CLASSIFICATION, given("Other text."), ["label", "scores"], MODELS, "alice") != key
    )
    openai = {"classifier.Classify": "openai/gpt-4o-mini"}
    assert cache_key(CLASSIFICATION, given(), ["label", "scores"], openai, "alice") != key


def _workflow(settings, **fields):
    request = pb.CreateWorkflowRequest(type="classification", input=given(), **fields)
    plan = validate_create(request, settings)
    return record.new("id", request, plan, Deadline.within(10)), request


def test_no_known_key_until_each_called_service_has_named_its_model(settings):
    ready = {"classifier": 1.0}
    keys = Keys(ready.get)
    workflow, request = _workflow(settings)
    outputs = list(workflow.expected_outputs)
    unknown = cache_key(CLASSIFICATION, given(), outputs, {"classifier.Classify": "?"}, "alice")
    assert keys.of(workflow, request, "alice") == unknown  # shares work in flight, finds nothing
    assert keys.of(workflow, request, "alice", known=True) is None  # so nothing is stored under it
    keys.learn("classifier", "Classify", "local/minilm")
    assert keys.of(workflow, request, "alice") == cache_key(
        CLASSIFICATION, given(), list(workflow.expected_outputs), MODELS, "alice"
    )
    # Per caller: a shared entry would tell bob, by its `cached` flag, what alice sent.
    assert keys.of(workflow, request, "bob") != keys.of(workflow, request, "alice")
    no_cache, request = _workflow(settings, use_cache=False)
    assert keys.of(no_cache, request, "alice") is None


def test_a_service_that_reconnected_is_unknown_until_it_replies_again(settings):
    ready = {"classifier": 1.0}
    keys = Keys(ready.get)
    workflow, request = _workflow(settings)
    keys.learn("classifier", "Classify", "local/minilm")
    before = keys.of(workflow, request, "alice")
    ready["classifier"] = 2.0  # restarted, perhaps with another backend
    assert keys.of(workflow, request, "alice", known=True) is None
    assert keys.of(workflow, request, "alice") not in (None, before)
    keys.learn("classifier", "Classify", "openai/gpt-4o-mini")
    assert keys.of(workflow, request, "alice") not in (None, before)


def test_a_workflow_that_indexes_a_meeting_is_never_cached_as_it_must_write_each_time(settings):
    keys = Keys({"meeting_intel": 1.0, "assistant": 1.0}.get)
    keys.learn("meeting_intel", "Analyze", "local/rules")
    keys.learn("assistant", "IndexDocument", "local/minilm")
    for outputs, cached in ((["summary"], True), (["summary", "indexed"], False)):
        request = pb.CreateWorkflowRequest(
            type="meeting_intelligence",
            input=pb.WorkflowInput(text="Ann: We ship in June."),
            expected_outputs=outputs,
        )
        workflow = record.new(
            "id", request, validate_create(request, settings), Deadline.within(10)
        )
        assert (keys.of(workflow, request, "alice", known=True) is not None) == cached, outputs


def test_an_assistant_answer_is_keyed_by_the_context_it_read_and_uncached_without_one(settings):
    keys = Keys({"assistant": 1.0}.get)
    keys.learn("assistant", "Chat", "local/extractive")
    request = pb.CreateWorkflowRequest(
        type="assistant", input=pb.WorkflowInput(text="What is the budget?")
    )
    workflow = record.new("id", request, validate_create(request, settings), Deadline.within(10))
    one = keys.of(workflow, request, "alice", known=True, context="k1")
    assert one is not None
    assert keys.of(workflow, request, "alice", known=True, context="k1") == one
    assert keys.of(workflow, request, "alice", known=True, context="k2") not in (None, one)
    # The assistant's other RPCs answer with other models: they leave the answer's key be.
    keys.learn("assistant", "IndexDocument", "local/minilm")
    assert keys.of(workflow, request, "alice", known=True, context="k1") == one
    # Without the context version an answer could be stale: neither looked up nor stored.
    assert keys.of(workflow, request, "alice", context=None) is None
    assert keys.of(workflow, request, "alice", known=True) is None
