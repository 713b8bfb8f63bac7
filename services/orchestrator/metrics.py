"""The orchestrator's Prometheus metrics, beside the runtime's RPC ones.

Workflows and steps are counted as the executor publishes their changes (`observe`, from
the EventHub), and each workflow's wait in the queue as a worker takes it (`queue_wait`,
from the scheduler); queue depth, breaker states and cache lookups are read from the
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
QUEUE_WAIT_SECONDS = Histogram(
    "aiorch_orchestrator_queue_wait_seconds",
    "Time a workflow waited in the queue of its priority before a worker took it.",
    ("priority",),
    # From an idle queue (microseconds) to a backlog drained over minutes.
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
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
# One child per priority, made once: a worker taking a job pays one observe().
_WAITS: dict[int, Histogram] = {
    priority: QUEUE_WAIT_SECONDS.labels(name) for priority, name in _PRIORITY.items()
}


def queue_wait(priority: int, seconds: float) -> None:
    """A workflow of `priority` waited `seconds` in its queue before a worker took it."""
    child = _WAITS.get(priority)
    if child is None:  # a priority of the scheduler's own (its tests use plain numbers)
        child = _WAITS[priority] = QUEUE_WAIT_SECONDS.labels(str(priority))
    child.observe(seconds)


class _Collector:
    """Reads every live orchestrator of the process (tests run several) at scrape time."""

    def __init__(self):
        # scheduler -> (breakers, cache, shared queue or None) of each live orchestrator
        self.orchestrators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def describe(self):
        return []  # read at scrape time only; nothing to check at registration

    def collect(self) -> Iterator:
        depth = GaugeMetricFamily(
            "aiorch_orchestrator_queue_depth", "Workflows waiting to run.", labels=["priority"]
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
        shared_depth = GaugeMetricFamily(
            "aiorch_orchestrator_shared_queue_depth",
            "Workflows waiting in the queue replicas share (PostgreSQL), across replicas:"
            " each replica reports the same figure.",
            labels=["priority"],
        )
        queued: dict[str, float] = {}
        shared: dict[str, float] = {}
        states: dict[str, int] = {}
        counts: dict[str, float] = {}
        for scheduler, (breakers, cache, queue) in list(self.orchestrators.items()):
            for priority, name in _PRIORITY.items():
                if priority in scheduler.sizes:
                    queued[name] = queued.get(name, 0) + scheduler.queued(priority)
                if queue is not None:
                    shared[name] = max(shared.get(name, 0), queue.depth.get(priority, 0))
            for service, circuit in breakers.items():
                states[service] = max(states.get(service, 0), _BREAKER[circuit.state.value])
            for key, value in cache.counts.items():
                counts[key] = counts.get(key, 0) + value
        for name, value in queued.items():
            depth.add_metric([name], value)
        for name, value in shared.items():
            shared_depth.add_metric([name], value)
        for service, state in states.items():
            breaker.add_metric([service], state)
        for key, value in counts.items():
            level, _, result = key.partition("_")
            if result:  # "shared" (single-flight joins) is no lookup
                lookups.add_metric([level, result.removesuffix("es").removesuffix("s")], value)
        yield from (depth, breaker, lookups)
        if shared:
            yield shared_depth


_collector = _Collector()
REGISTRY.register(_collector)


def watch(scheduler, breakers: dict, cache, shared_queue=None) -> None:
    """Reports an orchestrator's queues (the one replicas share too, if any), breakers and
    cache for as long as its scheduler lives."""
    _collector.orchestrators[scheduler] = (breakers, cache, shared_queue)
