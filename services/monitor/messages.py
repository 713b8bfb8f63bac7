"""Domain values of the monitor as MonitorService messages."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import duration_pb2, timestamp_pb2

from aiorch.v1 import common_pb2
from aiorch.v1 import monitor_pb2 as pb
from services.monitor.activity import ActivitySummary
from services.monitor.alerts import Alert, Level
from services.monitor.health import Health, State
from services.monitor.history import Series, Summary
from services.monitor.recorder import Sample

_STATES = {
    State.HEALTHY: pb.HEALTH_STATE_HEALTHY,
    State.DEGRADED: pb.HEALTH_STATE_DEGRADED,
    State.UNHEALTHY: pb.HEALTH_STATE_UNHEALTHY,
}
_LEVELS = {Level.WARNING: common_pb2.SEVERITY_WARNING, Level.CRITICAL: common_pb2.SEVERITY_CRITICAL}


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    # Microseconds: as fine as a float of epoch seconds is exact (a quarter of one).
    stamp.FromMicroseconds(round(seconds * 1e6))
    return stamp


def duration(seconds: float) -> duration_pb2.Duration:
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def sample(value: Sample, names: Iterable[str] | None = None) -> pb.MetricsSample:
    chosen = sorted(value.metrics) if names is None else [n for n in names if n in value.metrics]
    return pb.MetricsSample(
        time=timestamp(value.time),
        metrics=[
            pb.MetricValue(name=n, value=value.metrics[n][0], unit=value.metrics[n][1])
            for n in chosen
        ],
    )


def health(value: Health) -> pb.GetHealthResponse:
    return pb.GetHealthResponse(
        state=_STATES[value.state],
        reason=value.reason,
        components=[
            pb.ComponentHealth(
                name=c.name, state=_STATES[c.state], reason=c.reason, latency_ms=c.latency_ms
            )
            for c in value.components
        ],
    )


def series(value: Series) -> pb.MetricSeries:
    return pb.MetricSeries(
        name=value.name,
        unit=value.unit,
        points=[pb.SeriesPoint(time=timestamp(t), value=v) for t, v in value.points],
    )


def summary(value: Summary) -> pb.MetricSummary:
    return pb.MetricSummary(
        name=value.name,
        unit=value.unit,
        min=value.min,
        avg=value.avg,
        p50=value.p50,
        p95=value.p95,
        max=value.max,
        samples=value.samples,
    )


def alert(value: Alert) -> pb.Alert:
    message = pb.Alert(
        metric=value.metric,
        severity=_LEVELS[value.level],
        threshold=value.threshold,
        value=value.value,
        fired_at=timestamp(value.fired_at),
        message=value.message,
    )
    if value.resolved_at is not None:
        message.resolved_at.CopyFrom(timestamp(value.resolved_at))
    return message


def activity_summary(value: ActivitySummary) -> pb.GetActivitySummaryResponse:
    return pb.GetActivitySummaryResponse(
        by_type=[pb.NamedCount(name=k, count=v) for k, v in value.by_type.items()],
        by_feature=[pb.NamedCount(name=k, count=v) for k, v in value.by_feature.items()],
        active_days=value.active_days,
        sessions=value.sessions,
        total=value.total,
    )
