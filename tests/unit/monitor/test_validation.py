import pytest
from google.protobuf import duration_pb2, struct_pb2

from aiorch.v1 import monitor_pb2 as pb
from services.common.errors import InvalidInput
from services.monitor import validation


def seconds(value: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(value * 1e9))
    return duration


def test_an_unset_window_takes_the_default_capped_at_the_maximum():
    assert validation.seconds(pb.GetMetricsSummaryRequest(), "window", 300, 3600) == 300
    assert validation.seconds(pb.GetMetricsSummaryRequest(), "window", 300, 60) == 60


@pytest.mark.parametrize(
    ("window", "reason"), [(0, "positive"), (-5, "positive"), (3601, "at most")]
)
def test_a_window_out_of_range_is_invalid_naming_the_field(window, reason):
    request = pb.GetMetricsSummaryRequest(window=seconds(window))
    with pytest.raises(InvalidInput) as caught:
        validation.seconds(request, "window", 300, 3600)
    assert caught.value.violations[0].field == "window"
    assert reason in caught.value.violations[0].reason


@pytest.mark.parametrize(("step", "reason"), [(0.5, "sampling interval"), (120, "window")])
def test_a_step_below_the_interval_or_above_the_window_is_invalid(step, reason):
    request = pb.GetMetricsHistoryRequest(step=seconds(step))
    with pytest.raises(InvalidInput, match=reason) as caught:
        validation.step(request, window=60, interval=1)
    assert caught.value.violations[0].field == "step"


def test_an_unset_step_is_the_sampling_interval():
    assert validation.step(pb.GetMetricsHistoryRequest(), window=60, interval=2) == 2


def track(**fields) -> pb.TrackActivityRequest:
    request = pb.TrackActivityRequest(activity_type="workflow_created", feature="classify")
    for name, value in fields.items():
        if name == "metadata":
            request.metadata.update(value)
        else:
            setattr(request, name, value)
    return request


def test_an_activity_carries_its_metadata_as_compact_json():
    activity = validation.activity(track(metadata={"words": 12, "lang": "en"}), 4096)
    assert activity.metadata_json == '{"lang":"en","words":12.0}'  # keys sorted: one size
    assert activity.activity_type == "workflow_created"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (track(activity_type=""), "activity_type"),
        (track(activity_type="has spaces"), "activity_type"),
        (track(activity_type="x" * 101), "activity_type"),
        (track(feature="a/b"), "feature"),
        (track(session_id="s" * 201), "session_id"),
        (track(metadata={"blob": "x" * 5000}), "metadata"),
    ],
)
def test_bad_activity_fields_are_invalid_naming_the_field(request_, field):
    with pytest.raises(InvalidInput) as caught:
        validation.activity(request_, 4096)
    assert caught.value.violations[0].field == field


def test_metadata_just_under_the_limit_is_accepted_and_just_over_refused():
    body = struct_pb2.Struct()
    body.update({"k": "x" * 100})
    size = len('{"k":""}') + 100
    request = pb.TrackActivityRequest(activity_type="t", metadata=body)
    validation.activity(request, size)
    with pytest.raises(InvalidInput, match=f"is {size} bytes as JSON"):
        validation.activity(request, size - 1)
