"""GetServicesHealth: every dependency checked now, with how long the check took and the
state of the circuit breaker the orchestrator keeps for it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from services.common.probe import Peers
from services.orchestrator.breaker import CircuitBreaker, State
from services.orchestrator.cache import ResultCache


@dataclass(frozen=True)
class Health:
    name: str
    serving: bool
    latency_ms: float
    breaker: State | None  # None: no breaker (the cache)
    error: str = ""


async def check_all(
    peers: Peers,
    breakers: dict[str, CircuitBreaker],
    cache: ResultCache,
    shared_cache: bool,
    timeout: float = 1.0,
) -> list[Health]:
    """Every service (at once) and, when there is one, the shared cache."""
    found = [
        Health(name, probe.serving, probe.latency_ms, breakers[name].state, probe.error)
        for name, probe in (await peers.check(timeout)).items()
    ]
    if shared_cache:
        started = time.perf_counter()
        note = await cache.ping()
        found.append(Health("redis", not note, (time.perf_counter() - started) * 1000, None, note))
    return found
