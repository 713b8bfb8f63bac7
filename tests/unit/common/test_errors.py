import grpc
from google.rpc import error_details_pb2

from services.common.errors import InvalidInput, NotFound, Overloaded, Violation, field_violations


def test_invalid_input_names_each_field_in_bad_request_details():
    error = InvalidInput(violations=[Violation("text", "empty"), Violation("labels", "none")])
    status = error.status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert field_violations(status) == {"text": "empty", "labels": "none"}


def test_invalid_input_under_a_parent_prefixes_every_field():
    error = InvalidInput("labels[1].name", "duplicate").under("input")
    assert field_violations(error.status()) == {"input.labels[1].name": "duplicate"}


def test_overloaded_carries_retry_info_with_the_delay():
    status = Overloaded("queue full", retry_after=1.5).status()
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == 1500


def test_not_found_maps_to_not_found_with_its_message():
    status = NotFound("no workflow x").status()
    assert (status.code, status.message) == (grpc.StatusCode.NOT_FOUND.value[0], "no workflow x")
