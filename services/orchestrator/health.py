"""GetServicesHealth: every dependency checked now, with how long the check took and the
state of the circuit breaker the orchestrator keeps for it.

Each check opens a channel of its own (as the monitor does): a long-lived channel to a
service that was down waits out gRPC's reconnect backoff before it notices the service is
back, and a health report must not lag like that.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.channels import open_channel
from services.orchestrator.breaker import CircuitBreaker, State
from services.orchestrator.cache import ResultCache


@dataclass(frozen=True)
class Health:
    name: str
    address: str
    serving: bool
    latency_ms: float
    breaker: State | None  # None: no breaker (the cache)
    error: str = ""


async def _check(name: str, addr: str, breaker: CircuitBreaker, timeout: float) -> Health:
    started = time.perf_counter()
    error = ""
    try:
        async with open_channel(addr) as channel:
            # A health check reports what is, now: it never waits for a service to come up.
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
            )
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            error = f"reports {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    except grpc.aio.AioRpcError as failure:
        error = f"health check failed: {failure.code().name}"
    latency = (time.perf_counter() - started) * 1000
    return Health(name, addr, not error, latency, breaker.state, error)


async def _check_cache(cache: ResultCache, redis_url: str) -> Health:
    started = time.perf_counter()
    note = await cache.ping()
    url = urlparse(redis_url)
    address = f"{url.hostname}:{url.port or 6379}"  # never the password
    return Health("redis", address, not note, (time.perf_counter() - started) * 1000, None, note)


async def check_all(
    addrs: dict[str, str],
    breakers: dict[str, CircuitBreaker],
    cache: ResultCache,
    redis_url: str,
    timeout: float = 1.0,
) -> list[Health]:
    """Every dependency at once, so the whole takes as long as the slowest check."""
    checks = [_check(name, addr, breakers[name], timeout) for name, addr in addrs.items()]
    if redis_url:
        checks.append(_check_cache(cache, redis_url))
    return list(await asyncio.gather(*checks))
