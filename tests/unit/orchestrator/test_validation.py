import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from aiorch.v1 import classifier_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import InvalidInput, Unimplemented
from services.orchestrator.validation import validate_create


def valid_request() -> pb.CreateWorkflowRequest:
    return pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        input=pb.WorkflowInput(
            text="Bob will send the invoice on Friday.",
            labels=[classifier_pb2.Label(name="finance"), classifier_pb2.Label(name="sport")],
        ),
    )


def _field(request, settings) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_create(request, settings)
    return caught.value.violations[0].field


def test_a_valid_request_gets_the_default_outputs_and_no_budget(settings):
    spec, outputs, budget = validate_create(valid_request(), settings)
    assert spec.name == "classification"
    assert outputs == ["label", "scores"]
    assert budget is None


def test_unknown_type_names_the_type_field(settings):
    request = valid_request()
    request.type = "astrology"
    assert _field(request, settings) == "type"


def test_an_output_the_type_cannot_give_names_its_index(settings):
    request = valid_request()
    request.expected_outputs.extend(["label", "horoscope"])
    assert _field(request, settings) == "expected_outputs[1]"


def test_empty_and_oversized_text_name_input_text(settings):
    request = valid_request()
    request.input.text = ""
    assert _field(request, settings) == "input.text"
    request.input.text = "x" * (settings.max_text_chars + 1)
    assert _field(request, settings) == "input.text"


def test_duplicate_labels_are_named_under_input(settings):
    request = valid_request()
    request.input.labels.add(name="Finance")
    assert _field(request, settings) == "input.labels[2].name"


def test_labels_are_not_needed_when_only_the_embedding_is_asked(settings):
    request = valid_request()
    del request.input.labels[:]
    request.expected_outputs.append("embedding")
    validate_create(request, settings)


def test_timeout_and_deadline_bound_the_budget_and_a_past_deadline_is_rejected(settings):
    request = valid_request()
    request.timeout.CopyFrom(duration_pb2.Duration(seconds=2))
    assert validate_create(request, settings)[2] == 2.0
    request.deadline.CopyFrom(timestamp_pb2.Timestamp(seconds=1))
    assert _field(request, settings) == "deadline"


def test_priority_out_of_range_is_rejected(settings):
    request = valid_request()
    request.priority = 42
    assert _field(request, settings) == "priority"


def test_asynchronous_workflows_say_they_are_not_built(settings):
    request = valid_request()
    request.wait = False
    with pytest.raises(Unimplemented):
        validate_create(request, settings)
