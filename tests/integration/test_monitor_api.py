"""The monitor's API figures and alerts from real RPC metrics: a drill service on port 0
whose calls fail or are slow on demand, its real Prometheus endpoint, and a real monitor
scraping it, whose alerts fire and resolve with the usual hold."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from aiorch.v1 import common_pb2, embeddings_pb2, embeddings_pb2_grpc
from aiorch.v1 import monitor_pb2 as pb
from services.common.channels import open_channel
from services.common.errors import Unavailable
from services.common.metrics import serve_metrics
from services.common.server import Service, create_server

from .test_monitor_service import monitor_server

ERRORS, LATENCY = "api.embeddings.errors.percent", "api.embeddings.latency.p95"


class Drill(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    """Embed fails (model "down": its backend is away) or is slow ("slow") on demand."""

    async def Embed(self, request, context):
        if request.model == "down":
            raise Unavailable("the model is away")
        if request.model == "slow":
            await asyncio.sleep(0.3)
        return embeddings_pb2.EmbedResponse(model="drill")


@pytest.fixture(scope="module")
async def drill():
    """(stub of the drill service, address of the process's metrics endpoint, address of
    the drill service)."""
    server = create_server(
        [
            Service(
                "aiorch.v1.EmbeddingsService",
                Drill(),
                embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    metrics = serve_metrics("127.0.0.1:0")
    try:
        async with open_channel(f"127.0.0.1:{server.port}") as channel:
            yield (
                embeddings_pb2_grpc.EmbeddingsServiceStub(channel),
                f"127.0.0.1:{metrics.server_port}",
                f"127.0.0.1:{server.port}",
            )
    finally:
        metrics.shutdown()
        await server.stop(0)


@contextlib.asynccontextmanager
async def watching(settings, metrics_addr, addr=""):
    """A monitor that scrapes the drill's endpoint often, over a one-second window (and
    checks the drill's health as the embeddings service's, given its `addr`)."""
    addrs = {
        f"{name}_metrics_addr": ""
        for name in ("orchestrator", "classifier", "meeting_intel", "monitor")
    }
    async with monitor_server(
        settings,
        **addrs,
        embeddings_metrics_addr=metrics_addr,
        **({"embeddings_addr": addr} if addr else {}),
        monitor_scrape_interval_seconds=0.1,
        monitor_api_window_seconds=1.0,
        alert_hold_seconds=0.3,
        alert_api_latency_warning=100.0,
        alert_api_latency_critical=10_000.0,
    ) as monitor:
        yield monitor


async def embed(stub, model: str, times: int) -> None:
    for _ in range(times):
        with contextlib.suppress(Exception):
            await stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"], model=model), timeout=5)


async def until(monitor, condition, timeout: float = 10.0) -> pb.GetAlertsResponse:
    deadline = time.monotonic() + timeout
    while True:
        alerts = await monitor.GetAlerts(pb.GetAlertsRequest(include_resolved=True), timeout=5)
        if condition(alerts):
            return alerts
        assert time.monotonic() < deadline, f"alerts never matched: {alerts}"
        await asyncio.sleep(0.1)


def firing(metric):
    return lambda alerts: any(a.metric == metric for a in alerts.active)


def resolved(metric):
    return lambda alerts: (
        not firing(metric)(alerts) and any(a.metric == metric for a in alerts.resolved)
    )


async def test_current_metrics_show_rate_errors_and_p95_per_service(settings, drill):
    stub, metrics_addr, _ = drill
    async with watching(settings, metrics_addr) as monitor:
        await asyncio.sleep(0.3)  # a first reading to count from
        await embed(stub, "", 20)
        await embed(stub, "down", 1)
        await asyncio.sleep(0.3)
        reply = await monitor.GetCurrentMetrics(pb.GetCurrentMetricsRequest(), timeout=5)
    found = {m.name: (m.value, m.unit) for m in reply.sample.metrics}
    assert found["api.embeddings.up"] == (1.0, "bool")
    assert found["api.embeddings.requests"][0] > 0
    assert found["api.embeddings.requests"][1] == "requests/s"
    # One call failed; the client retried it, and the server saw every attempt fail.
    assert 0 < found[ERRORS][0] < 50
    assert 0 < found[LATENCY][0] < 100 and found[LATENCY][1] == "ms"
    assert "cpu.percent" in found  # beside the host's figures


async def embeddings_health(monitor) -> pb.ComponentHealth:
    health = await monitor.GetHealth(pb.GetHealthRequest(), timeout=5)
    [component] = [c for c in health.components if c.name == "embeddings"]
    return component


async def test_an_error_rate_alert_fires_during_a_failure_and_resolves_after(settings, drill):
    stub, metrics_addr, addr = drill
    async with watching(settings, metrics_addr, addr) as monitor:
        await asyncio.sleep(0.3)
        assert (await embeddings_health(monitor)).state == pb.HEALTH_STATE_HEALTHY
        failing = asyncio.create_task(embed(stub, "down", 8))
        alerts = await until(monitor, firing(ERRORS))
        [alert] = [a for a in alerts.active if a.metric == ERRORS]
        assert alert.value >= 50 and alert.threshold == settings.alert_api_error_rate_critical
        # It answers its health check, but fails its callers: GetHealth says so.
        component = await embeddings_health(monitor)
        assert component.state == pb.HEALTH_STATE_UNHEALTHY, component
        assert ERRORS in component.reason and component.latency_ms > 0
        await failing
        await embed(stub, "", 5)  # recovered: calls succeed again
        await until(monitor, resolved(ERRORS))
        assert (await embeddings_health(monitor)).state == pb.HEALTH_STATE_HEALTHY


async def test_a_p95_latency_alert_fires_while_slow_and_resolves_after(settings, drill):
    stub, metrics_addr, addr = drill
    async with watching(settings, metrics_addr, addr) as monitor:
        await asyncio.sleep(0.3)
        slow = asyncio.create_task(embed(stub, "slow", 8))
        alerts = await until(monitor, firing(LATENCY))
        [alert] = [a for a in alerts.active if a.metric == LATENCY]
        assert alert.value >= 100 and alert.severity == common_pb2.SEVERITY_WARNING
        component = await embeddings_health(monitor)
        assert component.state == pb.HEALTH_STATE_DEGRADED and LATENCY in component.reason
        await slow
        await until(monitor, resolved(LATENCY))
        assert (await embeddings_health(monitor)).state == pb.HEALTH_STATE_HEALTHY


async def test_a_service_that_is_down_reads_as_not_up(settings):
    async with monitor_server(
        settings,
        embeddings_metrics_addr="127.0.0.1:1",
        monitor_scrape_interval_seconds=0.1,
    ) as monitor:
        await asyncio.sleep(0.3)
        reply = await monitor.GetCurrentMetrics(pb.GetCurrentMetricsRequest(), timeout=5)
    found = {m.name: m.value for m in reply.sample.metrics}
    assert found["api.embeddings.up"] == 0.0


async def test_a_service_killed_fires_a_critical_alert_and_resolves_once_back(settings):
    up = "api.embeddings.up"
    endpoint = serve_metrics("127.0.0.1:0")
    port = endpoint.server_port
    async with watching(settings, f"127.0.0.1:{port}") as monitor:
        await asyncio.sleep(0.3)
        endpoint.shutdown()
        endpoint.server_close()  # gone, as a killed process's port is
        alerts = await until(monitor, firing(up))
        [alert] = [a for a in alerts.active if a.metric == up]
        assert alert.severity == common_pb2.SEVERITY_CRITICAL and alert.value == 0
        assert "at or below" in alert.message
        endpoint = serve_metrics(f"127.0.0.1:{port}")  # restarted on its address
        try:
            await until(monitor, resolved(up))
        finally:
            endpoint.shutdown()
            endpoint.server_close()
