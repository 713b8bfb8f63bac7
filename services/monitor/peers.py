"""Health of the suite's other services through the standard grpc.health.v1 Check.

Each check opens a channel of its own: a long-lived channel to a service that was down
waits out gRPC's reconnect backoff (up to two minutes) before it notices the service is
back, and a health report must not lag like that. The latency therefore includes
connecting, as a new client would see it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.channels import open_channel
from services.monitor.health import Component, State


async def check(name: str, addr: str, timeout: float, slow_ms: float) -> Component:
    started = time.perf_counter()
    try:
        channel = open_channel(addr)
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            # A health check reports what is, now: it never waits for a service to come up.
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
            )
        finally:
            await channel.close()
    except grpc.aio.AioRpcError as error:
        latency = (time.perf_counter() - started) * 1000
        return Component(
            name, State.UNHEALTHY, f"health check failed: {error.code().name}", latency
        )
    latency = (time.perf_counter() - started) * 1000
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return Component(name, State.UNHEALTHY, f"reports {status}", latency)
    if latency > slow_ms:
        reason = f"health check took {latency:.0f} ms, more than {slow_ms:g} ms"
        return Component(name, State.DEGRADED, reason, latency)
    return Component(name, State.HEALTHY, "", latency)


async def check_all(addrs: Mapping[str, str], timeout: float, slow_ms: float) -> list[Component]:
    """Every service at once, so the whole takes as long as the slowest check."""
    return list(
        await asyncio.gather(*(check(name, addr, timeout, slow_ms) for name, addr in addrs.items()))
    )
