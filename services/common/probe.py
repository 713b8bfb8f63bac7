"""Health of the suite's other services through the standard grpc.health.v1 Check, as the
orchestrator's GetServicesHealth and the monitor's GetHealth both report it.

One channel per service, kept open: our channels reconnect within half a second of a
service coming back (channels.py), so a kept channel reports a restarted service as soon
as a new one would, without a connection per check. A check never waits for a service to
come up: it reports what is, now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.channels import open_channel


@dataclass(frozen=True)
class Probe:
    serving: bool
    latency_ms: float
    error: str = ""  # why it is not serving


class Peers:
    def __init__(self, addrs: Mapping[str, str]):
        """Open it inside a running event loop."""
        self._stubs = {}
        self._channels = []
        for name, addr in addrs.items():
            channel = open_channel(addr)
            self._channels.append(channel)
            self._stubs[name] = health_pb2_grpc.HealthStub(channel)

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels))

    async def check(self, timeout: float) -> dict[str, Probe]:
        """Every service at once, so the whole takes as long as the slowest check."""
        found = await asyncio.gather(*(self._check(s, timeout) for s in self._stubs.values()))
        return dict(zip(self._stubs, found, strict=True))

    @staticmethod
    async def _check(stub: health_pb2_grpc.HealthStub, timeout: float) -> Probe:
        started = time.perf_counter()
        error = ""
        try:
            reply = await stub.Check(
                health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
            )
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                error = f"reports {status}"
        except grpc.aio.AioRpcError as failure:
            error = f"health check failed: {failure.code().name}"
        return Probe(not error, (time.perf_counter() - started) * 1000, error)
