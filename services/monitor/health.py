"""Health of the host components and of the suite's services, and the overall verdict.

Host components follow the alerts (so a spike shorter than the alert hold does not turn
health red): a warning makes its component DEGRADED, a critical alert UNHEALTHY. Service
components come from their health checks (peers.py), made worse the same way by the
alerts on their API figures (api.<service>.errors.percent, api.<service>.latency.p95):
a service that answers its health check but fails or is slow for its callers is not
healthy. Overall is the worst component, with the reasons of the components that made it
so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from services.monitor.alerts import Alert, Level


class State(IntEnum):
    HEALTHY = 1
    DEGRADED = 2
    UNHEALTHY = 3


@dataclass(frozen=True)
class Component:
    name: str
    state: State
    reason: str = ""
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Health:
    state: State
    reason: str
    components: tuple[Component, ...]


HOST_COMPONENTS = ("cpu", "memory", "disk", "network")
# Which component a metric's alert speaks for, by the metric's first name part.
_COMPONENT_OF = {
    "cpu": "cpu",
    "load": "cpu",
    "memory": "memory",
    "swap": "memory",
    "disk": "disk",
    "net": "network",
}
_STATE_OF = {Level.WARNING: State.DEGRADED, Level.CRITICAL: State.UNHEALTHY}


def host_components(active: Iterable[Alert]) -> list[Component]:
    by_component: dict[str, list[Alert]] = {name: [] for name in HOST_COMPONENTS}
    for alert in active:
        component = _COMPONENT_OF.get(alert.metric.split(".", 1)[0])
        if component is not None:
            by_component[component].append(alert)
    components = []
    for name, alerts in by_component.items():
        if not alerts:
            components.append(Component(name, State.HEALTHY))
            continue
        worst = max(alert.level for alert in alerts)
        reason = "; ".join(alert.message for alert in alerts if alert.level == worst)
        components.append(Component(name, _STATE_OF[worst], reason))
    return components


def _api_service(metric: str) -> str | None:
    """`api.meeting_intel.errors.percent` -> `meeting_intel`; None for other metrics and
    for `api.<service>.up` (a service that does not answer fails its health check)."""
    parts = metric.split(".")
    if len(parts) >= 3 and parts[0] == "api" and parts[2] in ("errors", "latency"):
        return parts[1]
    return None


def service_components(checked: Iterable[Component], active: Iterable[Alert]) -> list[Component]:
    """Each checked service at the worse of its health check and its API alerts; a
    service with API alerts and no health check (the monitor itself) gets a component."""
    alerts: dict[str, list[Alert]] = {}
    for alert in active:
        if (service := _api_service(alert.metric)) is not None:
            alerts.setdefault(service, []).append(alert)
    found = {c.name: c for c in checked}
    for name in alerts.keys() - found.keys():
        found[name] = Component(name, State.HEALTHY)
    components = []
    for name, component in found.items():
        if name not in alerts:
            components.append(component)
            continue
        worst = max(alert.level for alert in alerts[name])
        state = max(component.state, _STATE_OF[worst])
        reasons = [component.reason] if component.state == state and component.reason else []
        if _STATE_OF[worst] == state:
            reasons += [alert.message for alert in alerts[name] if alert.level == worst]
        components.append(Component(name, state, "; ".join(reasons), component.latency_ms))
    return components


def overall(components: Sequence[Component]) -> Health:
    worst = max((c.state for c in components), default=State.HEALTHY)
    reason = "; ".join(
        f"{c.name}: {c.reason}" for c in components if c.state == worst != State.HEALTHY
    )
    return Health(worst, reason, tuple(components))
