"""Health of the suite's other services as the monitor reports it: the shared probe
(services/common/probe.py), with a service whose check is slow marked DEGRADED."""

from __future__ import annotations

from services.common.probe import Peers
from services.monitor.health import Component, State


async def check_all(peers: Peers, timeout: float, slow_ms: float) -> list[Component]:
    """Every service at once, so the whole takes as long as the slowest check."""
    found = []
    for name, probe in (await peers.check(timeout)).items():
        if not probe.serving:
            found.append(Component(name, State.UNHEALTHY, probe.error, probe.latency_ms))
        elif probe.latency_ms > slow_ms:
            reason = f"health check took {probe.latency_ms:.0f} ms, more than {slow_ms:g} ms"
            found.append(Component(name, State.DEGRADED, reason, probe.latency_ms))
        else:
            found.append(Component(name, State.HEALTHY, "", probe.latency_ms))
    return found
