import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from aiorch.v1 import classifier_pb2, meeting_intel_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.errors import InvalidInput
from services.orchestrator.validation import validate_batch, validate_create


def valid_request() -> pb.CreateWorkflowRequest:
    return pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        input=pb.WorkflowInput(
            text="Bob will send the invoice on Friday.",
            labels=[classifier_pb2.Label(name="finance"), classifier_pb2.Label(name="sport")],
        ),
    )


def meeting_request() -> pb.CreateWorkflowRequest:
    return pb.CreateWorkflowRequest(
        type="meeting_intelligence",
        input=pb.WorkflowInput(
            segments=[
                meeting_intel_pb2.TranscriptSegment(speaker="Ann", text="Bob will send it Friday.")
            ]
        ),
    )


def _field(request, settings) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate_create(request, settings)
    return caught.value.violations[0].field


def test_a_valid_request_gets_the_default_outputs_and_no_budget(settings):
    plan = validate_create(valid_request(), settings)
    assert plan.spec.name == "classification"
    assert plan.outputs == ["label", "scores"]
    assert plan.budget is None
    assert plan.needed == {"classify"}


def test_unknown_type_names_the_type_field(settings):
    request = valid_request()
    request.type = "astrology"
    assert _field(request, settings) == "type"


def test_every_declared_type_is_accepted(settings):
    for name in ("classification", "meeting_intelligence", "hybrid", "embedding"):
        request = valid_request()
        request.type = name
        assert validate_create(request, settings).spec.name == name


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


def test_a_meeting_transcript_may_be_longer_than_a_document(settings):
    request = meeting_request()
    del request.input.segments[:]
    request.input.text = "Ann: hello.\n" * (settings.max_text_chars // 10)
    validate_create(request, settings)
    request.input.text = "x" * (settings.meeting_intel_max_chars + 1)
    assert _field(request, settings) == "input.text"


def test_segments_with_no_words_or_beside_a_text_are_rejected(settings):
    request = meeting_request()
    request.input.segments[0].text = "  "
    assert _field(request, settings) == "input.segments"
    request = meeting_request()
    request.input.text = "Ann: hello"
    assert _field(request, settings) == "input.segments"


def test_a_malformed_meeting_date_is_rejected(settings):
    request = meeting_request()
    request.input.meeting_date = "next Tuesday"
    assert _field(request, settings) == "input.meeting_date"


def test_labels_are_needed_only_when_a_classification_output_is_asked(settings):
    request = meeting_request()
    validate_create(request, settings)
    request.expected_outputs.extend(["action_items", "label"])
    assert _field(request, settings) == "input.labels"


def test_duplicate_labels_are_named_under_input(settings):
    request = valid_request()
    request.input.labels.add(name="Finance")
    assert _field(request, settings) == "input.labels[2].name"


def test_labels_are_not_needed_when_only_the_embedding_is_asked(settings):
    request = valid_request()
    del request.input.labels[:]
    request.expected_outputs.append("embedding")
    assert validate_create(request, settings).needed == {"embed"}


def test_timeout_and_deadline_bound_the_budget_and_a_past_deadline_is_rejected(settings):
    request = valid_request()
    request.timeout.CopyFrom(duration_pb2.Duration(seconds=2))
    assert validate_create(request, settings).budget == 2.0
    request.deadline.CopyFrom(timestamp_pb2.Timestamp(seconds=1))
    assert _field(request, settings) == "deadline"
    request.ClearField("deadline")
    request.timeout.CopyFrom(duration_pb2.Duration(seconds=-1))
    assert _field(request, settings) == "timeout"


def test_priority_out_of_range_is_rejected(settings):
    request = valid_request()
    request.priority = 42
    assert _field(request, settings) == "priority"


def test_an_overlong_idempotency_key_is_rejected(settings):
    request = valid_request()
    request.idempotency_key = "k" * 201
    assert _field(request, settings) == "idempotency_key"


def test_a_batch_needs_items_within_the_limit_and_a_sane_parallelism(settings):
    batch = pb.CreateBatchRequest()
    with pytest.raises(InvalidInput, match="items"):
        validate_batch(batch, settings)
    batch.items.extend([valid_request()] * (settings.batch_max_items + 1))
    with pytest.raises(InvalidInput, match="items"):
        validate_batch(batch, settings)
    del batch.items[1:]
    assert validate_batch(batch, settings) == settings.batch_default_parallelism
    batch.max_parallelism = settings.batch_max_parallelism + 1
    with pytest.raises(InvalidInput, match="max_parallelism"):
        validate_batch(batch, settings)


def test_an_idempotency_key_with_a_nul_is_the_callers_mistake_not_a_500(settings):
    request = valid_request()
    request.idempotency_key = "key\x00with a nul"
    assert _field(request, settings) == "idempotency_key"
