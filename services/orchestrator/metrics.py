"""The orchestrator's Prometheus metrics, beside the runtime's RPC ones.

Workflows and steps are counted as the executor publishes their changes (`observe`, from
the EventHub); queue depth and wait, breaker states and cache lookups are read from the
running orchestrators when Prometheus scrapes (`watch`), so the hot path pays nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from cachetools import LRUCache
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.metrics import LATENCY_BUCKETS

WORKFLOWS = Counter(
    "aiorch_orchestrator_workflows_total",
    "Workflows that finished, by type and final status.",
    ("type", "status"),
)
STEP_SECONDS = Histogram(
    "aiorch_orchestrator_step_seconds",
    "Time a step took, retries included, by workflow type, step and final state.",
    ("type", "step", "state"),
    buckets=LATENCY_BUCKETS,
)
STEP_RETRIES = Counter(
    "aiorch_orchestrator_step_retries_total",
    "Calls steps made beyond their first, by the service they called.",
    ("service",),
)
TAKEOVERS = Counter(
    "aiorch_orchestrator_takeovers_total",
    "Workflows a dead orchestrator left that this one ran again or failed.",
)

_FINAL_STEPS = frozenset(
    {pb.STEP_STATE_SUCCEEDED, pb.STEP_STATE_FAILED}
    | {v for n, v in pb.StepState.items() if n in ("STEP_STATE_SKIPPED", "STEP_STATE_CANCELLED")}
)
_FINAL_WORKFLOWS = frozenset(
    {
        pb.WORKFLOW_STATUS_SUCCEEDED,
        pb.WORKFLOW_STATUS_PARTIAL,
        pb.WORKFLOW_STATUS_FAILED,
        pb.WORKFLOW_STATUS_CANCELLED,
        pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED,
    }
)
# A finished workflow or step may be published more than once (a cancel racing the end):
# each is counted once.
_counted: LRUCache = LRUCache(maxsize=10_000)


def _name(enum, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()


def observe(workflow: pb.Workflow, step: pb.Step | None = None) -> None:
    if step is None:
        if workflow.status in _FINAL_WORKFLOWS and workflow.workflow_id not in _counted:
            _counted[workflow.workflow_id] = True
            status = _name(pb.WorkflowStatus, workflow.status, "WORKFLOW_STATUS_")
            WORKFLOWS.labels(workflow.type, status).inc()
        return
    key = (workflow.workflow_id, step.name)
    if step.state not in _FINAL_STEPS or key in _counted:
        return
    _counted[key] = True
    state = _name(pb.StepState, step.state, "STEP_STATE_")
    if step.HasField("started_at") and step.HasField("finished_at"):
        seconds = (step.finished_at.ToNanoseconds() - step.started_at.ToNanoseconds()) / 1e9
        STEP_SECONDS.labels(workflow.type, step.name, state).observe(max(seconds, 0.0))
    if step.attempts > 1:
        STEP_RETRIES.labels(step.service).inc(step.attempts - 1)


_BREAKER = {"closed": 0, "half_open": 1, "open": 2}
_PRIORITY = {pb.PRIORITY_HIGH: "high", pb.PRIORITY_NORMAL: "normal", pb.PRIORITY_LOW: "low"}


class _Collector:
    """Reads every live orchestrator of the process (tests run several) at scrape time."""

    def __init__(self):
        self.orchestrators: weakref.WeakSet = weakref.WeakSet()

    def describe(self):
        return []  # read at scrape time only; nothing to check at registration

    def collect(self) -> Iterator:
        depth = GaugeMetricFamily(
            "aiorch_orchestrator_queue_depth", "Workflows waiting to run.", labels=["priority"]
        )
        wait = GaugeMetricFamily(
            "aiorch_orchestrator_queue_wait_seconds",
            "Time the last 1000 workflows of a priority waited to start, as quantiles.",
            labels=["priority", "quantile"],
        )
        breaker = GaugeMetricFamily(
            "aiorch_orchestrator_breaker_state",
            "Circuit breaker per service: 0 closed, 1 half open, 2 open.",
            labels=["service"],
        )
        lookups = CounterMetricFamily(
            "aiorch_orchestrator_cache_lookups",
            "Result cache lookups by level (l1 in process, l2 Redis) and result.",
            labels=["level", "result"],
        )
        queued: dict[str, float] = {}
        waits: dict[str, list[float]] = {}
        states: dict[str, int] = {}
        counts: dict[str, float] = {}
        for orchestrator in list(self.orchestrators):
            scheduler = orchestrator.scheduler
            for priority, name in _PRIORITY.items():
                if priority in scheduler.sizes:
                    queued[name] = queued.get(name, 0) + scheduler.queued(priority)
                    waits.setdefault(name, []).extend(scheduler.waits[priority])
            for service, circuit in orchestrator.executor.breakers.items():
                states[service] = max(states.get(service, 0), _BREAKER[circuit.state.value])
            for key, value in orchestrator.cache.counts.items():
                counts[key] = counts.get(key, 0) + value
        for name, value in queued.items():
            depth.add_metric([name], value)
            ordered = sorted(waits[name])
            for q in (0.5, 0.95):
                at = ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0
                wait.add_metric([name, str(q)], at)
        for service, state in states.items():
            breaker.add_metric([service], state)
        for key, value in counts.items():
            level, _, result = key.partition("_")
            if result:  # "shared" (single-flight joins) is no lookup
                lookups.add_metric([level, result.removesuffix("es").removesuffix("s")], value)
        yield from (depth, wait, breaker, lookups)


_collector = _Collector()
REGISTRY.register(_collector)


def watch(orchestrator) -> None:
    """Reports `orchestrator`'s queues, breakers and cache for as long as it lives."""
    _collector.orchestrators.add(orchestrator)
