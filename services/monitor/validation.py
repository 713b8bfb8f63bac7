"""Checks of MonitorService requests; each failure names its field."""

from __future__ import annotations

import json
import re

from google.protobuf import json_format

from services.common.errors import InvalidInput
from services.monitor.activity import Activity

MAX_NAME_CHARS = 100
MAX_SESSION_CHARS = 200
MAX_ACTIVITIES = 500  # in one TrackActivities call
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def seconds(request, field: str, default: float, maximum: float) -> float:
    """A Duration field in seconds: the default when unset, else in (0, maximum]."""
    if not request.HasField(field):
        return min(default, maximum)
    duration = getattr(request, field)
    value = duration.seconds + duration.nanos / 1e9
    if value <= 0:
        raise InvalidInput(field, "must be positive")
    if value > maximum:
        raise InvalidInput(field, f"must be at most {maximum:g} s, got {value:g} s")
    return value


def step(request, window: float, interval: float) -> float:
    """Width of a downsampled point: the sampling interval when unset."""
    if not request.HasField("step"):
        return interval
    value = request.step.seconds + request.step.nanos / 1e9
    if value < interval:
        raise InvalidInput("step", f"must be at least the sampling interval, {interval:g} s")
    if value > window:
        raise InvalidInput("step", f"must not exceed the window, {window:g} s")
    return value


def activity(request, max_metadata_bytes: int) -> Activity:
    _name(request.activity_type, "activity_type", required=True)
    _name(request.feature, "feature", required=False)
    if len(request.session_id) > MAX_SESSION_CHARS:
        raise InvalidInput("session_id", f"longer than {MAX_SESSION_CHARS} characters")
    metadata = json.dumps(
        json_format.MessageToDict(request.metadata),
        separators=(",", ":"),
        ensure_ascii=False,
        sort_keys=True,
    )
    size = len(metadata.encode())
    if size > max_metadata_bytes:
        raise InvalidInput(
            "metadata", f"is {size} bytes as JSON, more than the limit of {max_metadata_bytes}"
        )
    return Activity(request.activity_type, request.feature, request.session_id, metadata)


def activities(request, max_metadata_bytes: int) -> list[Activity]:
    """A TrackActivities request's activities, each checked as TrackActivity would."""
    if not request.activities:
        raise InvalidInput("activities", "must not be empty")
    if len(request.activities) > MAX_ACTIVITIES:
        raise InvalidInput("activities", f"more than {MAX_ACTIVITIES}")
    found = []
    for index, one in enumerate(request.activities):
        try:
            found.append(activity(one, max_metadata_bytes))
        except InvalidInput as error:
            raise error.under(f"activities[{index}]") from None
    return found


def _name(value: str, field: str, required: bool) -> None:
    if not value:
        if required:
            raise InvalidInput(field, "must not be empty")
        return
    if len(value) > MAX_NAME_CHARS:
        raise InvalidInput(field, f"longer than {MAX_NAME_CHARS} characters")
    if not _NAME.fullmatch(value):
        raise InvalidInput(field, "may hold only letters, digits and _ . : -")
