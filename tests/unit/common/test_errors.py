import grpc
import pytest
from google.rpc import error_details_pb2

from services.common.errors import (
    MAX_MESSAGE_CHARS,
    MAX_PASSED_VIOLATIONS,
    MAX_REASON_CHARS,
    RETRY_SAFE,
    InvalidInput,
    NotFound,
    Overloaded,
    Unavailable,
    Violation,
    field_violations,
    from_downstream,
    public_text,
)
from services.orchestrator.executor import _TROUBLE


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


def _downstream(code, details="", status=None) -> grpc.aio.AioRpcError:
    """A failed call as a client of another service receives it."""
    trailing = grpc.aio.Metadata()
    if status is not None:
        trailing.add("grpc-status-details-bin", status.SerializeToString())
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=details)


def _refusal(code=grpc.StatusCode.INVALID_ARGUMENT) -> grpc.aio.AioRpcError:
    status = InvalidInput("texts[1]", "longer than 8000 characters").status()
    status.code = code.value[0]
    return _downstream(code, status.message, status)


def test_a_downstream_invalid_argument_is_the_callers_invalid_input_with_its_fields():
    error = from_downstream(_refusal())
    assert isinstance(error, InvalidInput)
    status = error.status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "refused" in status.message and "texts[1]" in status.message
    assert field_violations(status) == {"texts[1]": "longer than 8000 characters"}


def test_a_downstream_out_of_range_is_the_callers_invalid_input_too():
    status = from_downstream(_refusal(grpc.StatusCode.OUT_OF_RANGE)).status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert field_violations(status) == {"texts[1]": "longer than 8000 characters"}


def test_a_downstream_refusal_without_details_carries_no_empty_field():
    error = from_downstream(_downstream(grpc.StatusCode.INVALID_ARGUMENT, "bad texts"))
    status = error.status()
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message.endswith("bad texts")
    assert not status.details


def test_a_downstream_refusal_passes_on_a_bounded_masked_message_and_few_fields():
    many = InvalidInput(
        violations=[
            Violation(f"texts[{i}]", f"bad at 10.0.0.{i}:50054 " + "x" * 500) for i in range(50)
        ]
    ).status()
    details = "from ipv4:10.0.0.5:50054 " + "y" * 5000
    many.message = details
    status = from_downstream(_downstream(grpc.StatusCode.INVALID_ARGUMENT, details, many)).status()
    assert len(status.message) <= MAX_MESSAGE_CHARS
    assert "10.0.0.5" not in status.message
    found = field_violations(status)
    assert len(found) == MAX_PASSED_VIOLATIONS
    assert all(len(r) <= MAX_REASON_CHARS and "10.0.0." not in r for r in found.values())


def test_a_downstream_refusal_never_counts_against_the_service_that_passed_it_on():
    # What the orchestrator's breakers count as a service in trouble.
    assert grpc.StatusCode.INVALID_ARGUMENT not in _TROUBLE
    assert grpc.StatusCode.OUT_OF_RANGE not in _TROUBLE


# Failure details as gRPC writes them (taken from real calls to closed ports and sockets).
REFUSED = {
    "10.0.0.5": "failed to connect to all addresses; last error: UNKNOWN: "
    "ipv4:10.0.0.5:50052: Failed to connect to remote host: Connection refused",
    "fd00::5": "failed to connect to all addresses; last error: UNKNOWN: "
    "ipv6:%5Bfd00::5%5D:50052: Failed to connect to remote host: Connection refused",
    "/run/aiorch/classifier.sock": "failed to connect to all addresses; last error: "
    "FAILED_PRECONDITION: unix:/run/aiorch/classifier.sock: connect failed: addr: "
    "unix:/run/aiorch/classifier.sock error: No such file or directory",
    "10.1.2.3": "upstream connect error: peer 10.1.2.3:8080 reset, retried [fd00::7]:50052",
}


@pytest.mark.parametrize(("address", "details"), REFUSED.items())
def test_public_text_never_shows_an_address(address, details):
    text = public_text(details)
    assert address not in text and "<address>" in text
    assert "fd00::7" not in text and "50052" not in text


def test_public_text_cuts_a_long_text_to_its_limit():
    assert len(public_text("x" * 5000)) == MAX_MESSAGE_CHARS
    assert public_text("x" * 5000, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(("address", "details"), REFUSED.items())
def test_a_downstream_unavailable_never_shows_its_address_to_our_caller(address, details):
    error = from_downstream(_downstream(grpc.StatusCode.UNAVAILABLE, details))
    status = error.status()
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert address not in status.message and "<address>" in status.message
    assert "is unavailable" in status.message


def test_a_downstream_overload_never_shows_an_address_either():
    details = "queue full at ipv4:10.0.0.5:50054"
    error = from_downstream(_downstream(grpc.StatusCode.RESOURCE_EXHAUSTED, details))
    assert "10.0.0.5" not in error.status().message


def test_a_spent_quota_of_the_caller_is_told_apart_from_a_service_overloaded():
    from services.common.errors import QuotaSpent, is_quota_spent
    from services.orchestrator.breaker import CircuitBreaker
    from services.orchestrator.executor import Executor

    spent = QuotaSpent("daily token budget spent", 3600.0, "daily model tokens").status()
    overloaded = Overloaded("queue full", retry_after=1.0).status()
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    quota_call = _downstream(code, spent.message, spent)
    busy_call = _downstream(code, overloaded.message, overloaded)
    assert is_quota_spent(quota_call) and not is_quota_spent(busy_call)
    assert not is_quota_spent(_refusal())
    # One user's spent budget must not open the breaker every user's calls go through.
    judge = Executor._judge.__get__(type("E", (), {"breaker_min_timeout": 1.0})())
    breaker = CircuitBreaker(failures=2, reset_seconds=60)
    for _ in range(5):
        assert judge(breaker, quota_call, 30.0) is False
    assert breaker.allow()
    for _ in range(2):
        assert judge(breaker, busy_call, 30.0) is True
    assert not breaker.allow()


def test_only_a_refusal_marked_retry_safe_carries_the_trailer_the_gateway_retries_on():
    assert Unavailable("stopping", retry_safe=True).trailing_metadata() == ((RETRY_SAFE, "true"),)
    assert Unavailable("the database is unavailable").trailing_metadata() == ()


def test_a_downstream_retry_safe_refusal_is_not_retry_safe_once_passed_on():
    # What a service did before its call was refused (stored, spent) is not undone by
    # the refusal, so the mark is the refusing service's alone.
    trailing = grpc.aio.Metadata((RETRY_SAFE, "true"))
    refused = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), trailing, details="stopping"
    )
    passed_on = from_downstream(refused)
    assert isinstance(passed_on, Unavailable)
    assert passed_on.trailing_metadata() == ()
