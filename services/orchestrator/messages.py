"""Domain values as the contract's messages."""

from __future__ import annotations

from aiorch.v1 import orchestrator_pb2 as pb
from services.orchestrator.breaker import State
from services.orchestrator.cache import LevelStats
from services.orchestrator.health import Health
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.workflows import WorkflowSpec

BREAKER = {
    State.CLOSED: pb.BREAKER_STATE_CLOSED,
    State.OPEN: pb.BREAKER_STATE_OPEN,
    State.HALF_OPEN: pb.BREAKER_STATE_HALF_OPEN,
    None: pb.BREAKER_STATE_UNSPECIFIED,
}


def workflow_type(spec: WorkflowSpec, settings: OrchestratorSettings) -> pb.WorkflowType:
    message = pb.WorkflowType(
        name=spec.name,
        description=spec.description,
        steps=[
            pb.StepSpec(
                name=s.name, service=s.service, rpc=s.rpc, outputs=s.outputs, required=s.required
            )
            for s in spec.steps
        ],
        outputs=spec.outputs,
        default_outputs=spec.default_outputs,
    )
    message.default_timeout.FromMilliseconds(round(spec.timeout(settings) * 1000))
    return message


def service_health(health: Health) -> pb.ServiceHealth:
    return pb.ServiceHealth(
        name=health.name,
        serving=health.serving,
        latency_ms=round(health.latency_ms, 3),
        breaker_state=BREAKER[health.breaker],
        error=health.error,
    )


def cache_stats(levels: list[LevelStats], hit_rate: float) -> pb.GetCacheStatsResponse:
    return pb.GetCacheStatsResponse(
        levels=[
            pb.CacheLevelStats(
                level=level.level,
                available=level.available,
                entries=level.entries,
                hits=level.hits,
                misses=level.misses,
                note=level.note,
            )
            for level in levels
        ],
        hit_rate=hit_rate,
    )
