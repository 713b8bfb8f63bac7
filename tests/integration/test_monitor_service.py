"""MonitorService through gRPC: a real monitor server on port 0, checking the health of
the integration suite's real services (and of one that is down)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_status import rpc_status

from aiorch.v1 import common_pb2, monitor_pb2_grpc
from aiorch.v1 import monitor_pb2 as pb
from services.assistant.__main__ import build as build_assistant
from services.common.errors import field_violations
from services.common.settings import DEFAULT_ADDRS
from services.monitor.__main__ import build

from .conftest import start_service

INTERVAL = 0.05
USER = [("x-user-id", "integration-user")]
ADMIN = [("x-user-id", "integration-admin"), ("x-user-roles", "admin")]


def closed_addr() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def seconds(value: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(value * 1e9))
    return duration


@contextlib.asynccontextmanager
async def monitor_server(settings, **changes):
    settings = settings.model_copy(
        update={
            "monitor_interval_seconds": INTERVAL,
            "alert_hold_seconds": 0,
            # cpu.percent is never below 0: a cpu warning fires at the first sample.
            "alert_cpu_warning": 0.0,
            "alert_cpu_critical": 1000.0,
            # A loaded CI host must not turn a healthy peer DEGRADED.
            "monitor_peer_slow_ms": 5000.0,
            # Scrape no API figures unless a test names the endpoints: the default ports
            # may belong to a suite someone else runs on this host, whose alerts would
            # turn this monitor's health.
            **{f"{name}_metrics_addr": "" for name in DEFAULT_ADDRS},
            **changes,
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("monitor", build, settings, stack)
        channel = grpc.aio.insecure_channel(settings.monitor_addr)
        stack.push_async_callback(channel.close)
        yield monitor_pb2_grpc.MonitorServiceStub(channel)


@pytest.fixture(scope="module")
async def monitor(suite):
    # Every peer up but meeting_intel: the suite runs no assistant, so one is started here.
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build_assistant, suite.settings, stack)
        async with monitor_server(settings, meeting_intel_addr=closed_addr()) as stub:
            await asyncio.sleep(INTERVAL * 8)  # some history
            yield stub


async def test_status_reports_version_sampling_interval_and_features(monitor):
    status = await monitor.GetStatus(pb.GetStatusRequest(), timeout=5)
    assert status.version == "0.1.0"
    assert status.sampling_interval.ToMilliseconds() == 50
    assert status.uptime.ToNanoseconds() > 0
    assert {"metrics", "alerts", "activity", "watch", "activity_store:sqlite"} <= set(
        status.features
    )


async def test_current_metrics_hold_the_host_with_units(monitor):
    reply = await monitor.GetCurrentMetrics(pb.GetCurrentMetricsRequest(), timeout=5)
    metrics = {m.name: m for m in reply.sample.metrics}
    assert metrics["cpu.percent"].unit == "percent"
    assert metrics["memory.used"].unit == "bytes" and metrics["memory.used"].value > 0
    assert metrics["disk./.percent"].unit == "percent"
    assert metrics["net.io.recv"].unit == "bytes/s"
    assert reply.sample.time.seconds > 0


async def test_health_checks_every_peer_and_names_the_one_that_is_down(monitor):
    health = await monitor.GetHealth(pb.GetHealthRequest(), timeout=5)
    components = {c.name: c for c in health.components}
    assert set(components) == {
        *("cpu", "memory", "disk", "network"),
        *("orchestrator", "classifier", "meeting_intel", "embeddings", "assistant"),
    }
    for name in ("orchestrator", "classifier", "embeddings", "assistant"):
        assert components[name].state == pb.HEALTH_STATE_HEALTHY, components[name]
        assert components[name].latency_ms > 0
    down = components["meeting_intel"]
    assert down.state == pb.HEALTH_STATE_UNHEALTHY
    assert down.reason.startswith("health check failed")
    # The always-firing cpu warning makes cpu DEGRADED; the worst state wins overall.
    assert components["cpu"].state == pb.HEALTH_STATE_DEGRADED
    assert health.state == pb.HEALTH_STATE_UNHEALTHY
    assert health.reason.startswith("meeting_intel: health check failed")


async def test_history_is_averaged_over_steps_of_the_window(monitor):
    request = pb.GetMetricsHistoryRequest(
        metrics=["cpu.percent", "memory.*"], window=seconds(1), step=seconds(0.2)
    )
    reply = await monitor.GetMetricsHistory(request, timeout=5)
    assert [s.name for s in reply.series] == [
        "cpu.percent",
        "memory.available",
        "memory.percent",
        "memory.used",
    ]
    points = reply.series[0].points
    assert 2 <= len(points) <= 6
    starts = [p.time.ToNanoseconds() for p in points]
    assert starts == sorted(starts)
    assert all(start % 200_000_000 == 0 for start in starts)  # aligned to the step


async def test_a_summary_gives_ordered_statistics_per_metric(monitor):
    request = pb.GetMetricsSummaryRequest(metrics=["cpu.percent"], window=seconds(60))
    [summary] = (await monitor.GetMetricsSummary(request, timeout=5)).summaries
    assert summary.samples >= 5
    assert summary.min <= summary.p50 <= summary.p95 <= summary.max
    assert summary.min <= summary.avg <= summary.max


async def test_the_firing_alert_is_listed_with_its_timestamps(monitor):
    alerts = await monitor.GetAlerts(pb.GetAlertsRequest(include_resolved=True), timeout=5)
    [cpu] = [a for a in alerts.active if a.metric == "cpu.percent"]
    assert cpu.severity == common_pb2.SEVERITY_WARNING and cpu.threshold == 0
    assert cpu.fired_at.seconds > 0 and not cpu.HasField("resolved_at")
    assert "cpu.percent" in cpu.message


async def test_optimize_is_for_admins_only(monitor):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await monitor.Optimize(pb.MonitorServiceOptimizeRequest(), timeout=5, metadata=USER)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_optimize_gives_recommendations_with_their_figures(monitor):
    reply = await monitor.Optimize(pb.MonitorServiceOptimizeRequest(), timeout=5, metadata=ADMIN)
    assert reply.recommendations
    for recommendation in reply.recommendations:
        assert recommendation.title and recommendation.detail and recommendation.figures


async def test_watch_streams_each_new_sample_with_only_the_metrics_asked(monitor):
    call = monitor.WatchMetrics(pb.WatchMetricsRequest(metrics=["cpu.*"]))
    samples = []
    async for reply in call:
        samples.append(reply.sample)
        if len(samples) == 3:
            break
    call.cancel()
    times = [s.time.ToNanoseconds() for s in samples]
    assert times == sorted(times) and len(set(times)) == 3
    for sample in samples:
        assert {m.name for m in sample.metrics} <= {"cpu.percent"} | {
            f"cpu.{i}.percent" for i in range(1024)
        }
        assert "cpu.percent" in {m.name for m in sample.metrics}


@pytest.mark.parametrize(
    ("method", "request_", "field"),
    [
        ("GetMetricsHistory", pb.GetMetricsHistoryRequest(window=seconds(3601)), "window"),
        ("GetMetricsHistory", pb.GetMetricsHistoryRequest(step=seconds(0.01)), "step"),
        ("GetMetricsHistory", pb.GetMetricsHistoryRequest(metrics=["gpu.percent"]), "metrics[0]"),
        ("GetMetricsSummary", pb.GetMetricsSummaryRequest(window=seconds(-1)), "window"),
        (
            "GetMetricsSummary",
            pb.GetMetricsSummaryRequest(metrics=["cpu.percent", "nope.*"]),
            "metrics[1]",
        ),
        (
            "GetActivitySummary",
            pb.GetActivitySummaryRequest(window=seconds(400 * 86400)),
            "window",
        ),
        ("TrackActivity", pb.TrackActivityRequest(activity_type="has space"), "activity_type"),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(monitor, method, request_, field):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(monitor, method)(request_, timeout=5, metadata=USER)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(caught.value))


async def test_too_much_metadata_is_invalid_argument_naming_metadata(monitor):
    request = pb.TrackActivityRequest(activity_type="upload")
    request.metadata.update({"blob": "x" * 5000})
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await monitor.TrackActivity(request, timeout=5, metadata=USER)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metadata" in field_violations(rpc_status.from_call(caught.value))


async def test_watching_an_unknown_metric_is_invalid_argument(monitor):
    call = monitor.WatchMetrics(pb.WatchMetricsRequest(metrics=["gpu.percent"]), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metrics[0]" in field_violations(rpc_status.from_call(caught.value))


async def test_activity_is_tracked_and_summarised_on_each_store(settings, database_url):
    # The key of tests/unit/monitor/test_activity_store.py: the session's PostgreSQL schema
    # is shared, and a store refuses a second key.
    key = "test-activity-key-0123456789abcdef"
    async with monitor_server(settings, database_url=database_url, activity_key=key) as stub:
        user = [("x-user-id", f"user-{database_url.split(':')[0]}-{id(stub)}")]
        for kind, feature, session in [
            ("workflow_created", "classification", "s1"),
            ("workflow_created", "classification", "s1"),
            ("result_viewed", "", "s2"),
        ]:
            request = pb.TrackActivityRequest(
                activity_type=kind, feature=feature, session_id=session
            )
            request.metadata.update({"words": 12})
            reply = await stub.TrackActivity(request, timeout=5, metadata=user)
            assert len(reply.activity_id) == 36
        own = pb.GetActivitySummaryRequest(user_id=user[0][1], window=seconds(3600))
        summary = await stub.GetActivitySummary(own, timeout=5, metadata=user)
        assert {c.name: c.count for c in summary.by_type} == {
            "workflow_created": 2,
            "result_viewed": 1,
        }
        assert [(c.name, c.count) for c in summary.by_feature] == [("classification", 2)]
        assert (summary.total, summary.sessions, summary.active_days) == (3, 2, 1)
        # Another user's summary, or everyone's, is for admins only.
        for request in (own, pb.GetActivitySummaryRequest()):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetActivitySummary(request, timeout=5, metadata=USER)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert (await stub.GetActivitySummary(own, timeout=5, metadata=ADMIN)).total == 3
        everyone = await stub.GetActivitySummary(
            pb.GetActivitySummaryRequest(), timeout=5, metadata=ADMIN
        )
        assert everyone.total >= 3


async def test_tracking_without_a_user_id_is_unauthenticated(monitor):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await monitor.TrackActivity(pb.TrackActivityRequest(activity_type="login"), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-user-id" in caught.value.details()
