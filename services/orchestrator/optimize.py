"""Optimize: recommendations computed from what the orchestrator measured, each with the
numbers behind it. Pure functions over a snapshot of the figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.orchestrator.breaker import State
from services.orchestrator.stats import ServiceFigures, percentile
from services.orchestrator.workflows import WORKFLOWS

INFO, WARNING, CRITICAL = 1, 2, 3  # as aiorch.v1.Severity
PRIORITY_NAMES = {3: "high", 2: "normal", 1: "low"}  # as aiorch.v1.Priority

MIN_CALLS = 20  # fewer calls than this say nothing about a rate
ERROR_RATE_WARNING, ERROR_RATE_CRITICAL = 0.05, 0.20
SLOW_SHARE = 0.5  # a p99 above this share of the budget leaves no room for a retry
QUEUE_WAIT_WARNING_MS = 1000.0
MIN_LOOKUPS = 100


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class Advice:
    title: str
    detail: str
    severity: int
    figures: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    """What was measured since the orchestrator started (recent windows)."""

    services: dict[str, ServiceFigures]
    breakers: dict[str, State]
    budgets: dict[str, float]  # service -> smallest default timeout of a type using it, s
    queue_waits_ms: dict[str, tuple[int, float]]  # priority -> (workflows, p95 wait ms)
    workers: int
    cache_lookups: int
    cache_hit_rate: float
    l1_entries: int
    l1_size: int
    redis_configured: bool
    redis_note: str


def recommend(s: Snapshot) -> list[Advice]:
    found = [
        *_breakers(s),
        *_errors(s),
        *_latency(s),
        *_queues(s),
        *_cache(s),
    ]
    if not found:
        found.append(
            Advice(
                "Nothing to change",
                "Error rates, latencies, queue waits and the cache are within their limits.",
                INFO,
                [
                    Figure("cache_hit_rate", s.cache_hit_rate, "ratio"),
                    *(Figure(f"{n}.p99", f.p99_ms, "ms") for n, f in s.services.items()),
                ],
            )
        )
    return sorted(found, key=lambda a: -a.severity)


def _breakers(s: Snapshot):
    for name, state in s.breakers.items():
        if state is not State.CLOSED:
            figures = s.services.get(name)
            yield Advice(
                f"{name} is failing: its circuit breaker is {state.value}",
                f"Calls to {name} fail fast until a probe succeeds; workflows that need it "
                "fail, those for which it is optional are PARTIAL. Check the service.",
                CRITICAL,
                [Figure(f"{name}.error_rate", figures.error_rate if figures else 0.0, "ratio")],
            )


def _errors(s: Snapshot):
    for name, f in s.services.items():
        if f.calls >= MIN_CALLS and f.error_rate >= ERROR_RATE_WARNING:
            yield Advice(
                f"{name} fails {f.error_rate:.0%} of calls",
                f"{f.errors} of the last {f.calls} calls to {name} failed with a transient "
                "error after the channel's retries; scale the service or look at its logs.",
                CRITICAL if f.error_rate >= ERROR_RATE_CRITICAL else WARNING,
                [
                    Figure(f"{name}.error_rate", f.error_rate, "ratio"),
                    Figure(f"{name}.calls", f.calls, "count"),
                ],
            )


def _latency(s: Snapshot):
    for name, f in s.services.items():
        budget = s.budgets.get(name)
        if budget and f.calls >= MIN_CALLS and f.p99_ms >= SLOW_SHARE * budget * 1000:
            yield Advice(
                f"{name} is slow against the workflow budget",
                f"The slowest calls to {name} take {f.p99_ms:.0f} ms, "
                f"{f.p99_ms / (budget * 1000):.0%} of the {budget:g} s default budget: add "
                "replicas of it, or raise the workflow timeouts.",
                WARNING,
                [
                    Figure(f"{name}.p50", f.p50_ms, "ms"),
                    Figure(f"{name}.p99", f.p99_ms, "ms"),
                    Figure(f"{name}.budget", budget * 1000, "ms"),
                ],
            )


def _queues(s: Snapshot):
    for priority, (count, p95) in s.queue_waits_ms.items():
        if count >= MIN_CALLS and p95 >= QUEUE_WAIT_WARNING_MS:
            yield Advice(
                f"Workflows of {priority} priority wait in the queue",
                f"One in twenty waited {p95:.0f} ms or more before a worker took it: raise "
                f"orchestrator_workers (now {s.workers}) if the services have room, or add "
                "orchestrator replicas.",
                WARNING,
                [
                    Figure(f"queue.{priority}.wait_p95", p95, "ms"),
                    Figure("workers", s.workers, "count"),
                ],
            )


def _cache(s: Snapshot):
    if s.redis_note:
        yield Advice(
            "The shared cache (Redis) is unavailable",
            f"Results are cached in this process only: {s.redis_note}",
            WARNING,
            [Figure("cache_hit_rate", s.cache_hit_rate, "ratio")],
        )
    if s.cache_lookups < MIN_LOOKUPS:
        return
    rate = Figure("cache_hit_rate", s.cache_hit_rate, "ratio")
    if s.l1_size and s.l1_entries >= s.l1_size and s.cache_hit_rate < 0.5:
        yield Advice(
            "The in-process cache is full",
            "Entries are evicted before they are asked for again: raise cache_l1_size"
            + ("." if s.redis_configured else ", or set AIORCH_REDIS_URL for a larger one."),
            WARNING,
            [rate, Figure("l1_entries", s.l1_entries, "count")],
        )
    elif s.cache_hit_rate >= 0.2 and not s.redis_configured:
        yield Advice(
            "Share the cache between replicas",
            "Repeated requests are common here; with AIORCH_REDIS_URL every replica serves "
            "what any of them computed.",
            INFO,
            [rate, Figure("cache_lookups", s.cache_lookups, "count")],
        )


def measure(orchestrator) -> Snapshot:
    """The figures an orchestrator has measured so far."""
    settings, scheduler = orchestrator.settings, orchestrator.scheduler
    budgets: dict[str, float] = {}
    for spec in WORKFLOWS.values():
        for service in spec.services:
            budget = spec.timeout(settings)
            budgets[service] = min(budgets.get(service, budget), budget)
    waits = {
        PRIORITY_NAMES[p]: (len(w), percentile([s * 1000 for s in w], 95))
        for p, w in scheduler.waits.items()
    }
    levels, hit_rate = orchestrator.cache.stats()
    return Snapshot(
        services=orchestrator.executor.stats.figures(),
        breakers={n: b.state for n, b in orchestrator.executor.breakers.items()},
        budgets=budgets,
        queue_waits_ms=waits,
        workers=scheduler.workers,
        cache_lookups=levels[0].hits + levels[0].misses,
        cache_hit_rate=hit_rate,
        l1_entries=levels[0].entries,
        l1_size=settings.cache_l1_size,
        redis_configured=orchestrator.cache.redis is not None,
        redis_note=orchestrator.cache.redis_note,
    )
