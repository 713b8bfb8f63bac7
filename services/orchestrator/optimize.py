"""Optimize: recommendations computed from what the orchestrator measured, each with the
numbers behind it. Pure functions over a snapshot of the figures."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.advice import (
    CRITICAL,
    INFO,
    WARNING,
    Figure,
    Recommendation,
    percentile,
    ranked,
)
from services.orchestrator.breaker import State
from services.orchestrator.stats import ServiceFigures
from services.orchestrator.workflows import WORKFLOWS

PRIORITY_NAMES = {3: "high", 2: "normal", 1: "low"}  # as aiorch.v1.Priority

MIN_CALLS = 20  # fewer calls than this say nothing about a rate
ERROR_RATE_WARNING, ERROR_RATE_CRITICAL = 0.05, 0.20
SLOW_SHARE = 0.5  # a p99 above this share of the budget leaves no room for a retry
QUEUE_WAIT_WARNING_MS = 1000.0
MIN_LOOKUPS = 100


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


def recommend(snapshot: Snapshot) -> list[Recommendation]:
    found = [
        *_breakers(snapshot),
        *_errors(snapshot),
        *_latency(snapshot),
        *_queues(snapshot),
        *_cache(snapshot),
    ]
    if not found:
        found.append(
            Recommendation(
                "Nothing to change",
                "Error rates, latencies, queue waits and the cache are within their limits.",
                INFO,
                [
                    Figure("cache_hit_rate", snapshot.cache_hit_rate, "ratio"),
                    *(
                        Figure(f"{name}.p99", measured.p99_ms, "ms")
                        for name, measured in snapshot.services.items()
                    ),
                ],
            )
        )
    return ranked(found)


def _breakers(snapshot: Snapshot):
    for name, state in snapshot.breakers.items():
        if state is not State.CLOSED:
            figures = snapshot.services.get(name)
            yield Recommendation(
                f"{name} is failing: its circuit breaker is {state.value}",
                f"Calls to {name} fail fast until a probe succeeds; workflows that need it "
                "fail, those for which it is optional are PARTIAL. Check the service.",
                CRITICAL,
                [Figure(f"{name}.error_rate", figures.error_rate if figures else 0.0, "ratio")],
            )


def _errors(snapshot: Snapshot):
    for name, measured in snapshot.services.items():
        if measured.calls >= MIN_CALLS and measured.error_rate >= ERROR_RATE_WARNING:
            yield Recommendation(
                f"{name} fails {measured.error_rate:.0%} of calls",
                f"{measured.errors} of the last {measured.calls} calls to {name} failed with a"
                " transient error after the channel's retries; scale the service or look at its"
                " logs.",
                CRITICAL if measured.error_rate >= ERROR_RATE_CRITICAL else WARNING,
                [
                    Figure(f"{name}.error_rate", measured.error_rate, "ratio"),
                    Figure(f"{name}.calls", measured.calls, "count"),
                ],
            )


def _latency(snapshot: Snapshot):
    for name, measured in snapshot.services.items():
        budget = snapshot.budgets.get(name)
        if budget and measured.calls >= MIN_CALLS and measured.p99_ms >= SLOW_SHARE * budget * 1000:
            yield Recommendation(
                f"{name} is slow against the workflow budget",
                f"The slowest calls to {name} take {measured.p99_ms:.0f} ms, "
                f"{measured.p99_ms / (budget * 1000):.0%} of the {budget:g} s default budget: add "
                "replicas of it, or raise the workflow timeouts.",
                WARNING,
                [
                    Figure(f"{name}.p50", measured.p50_ms, "ms"),
                    Figure(f"{name}.p99", measured.p99_ms, "ms"),
                    Figure(f"{name}.budget", budget * 1000, "ms"),
                ],
            )


def _queues(snapshot: Snapshot):
    for priority, (count, p95) in snapshot.queue_waits_ms.items():
        if count >= MIN_CALLS and p95 >= QUEUE_WAIT_WARNING_MS:
            yield Recommendation(
                f"Workflows of {priority} priority wait in the queue",
                f"One in twenty waited {p95:.0f} ms or more before a worker took it: raise "
                f"orchestrator_workers (now {snapshot.workers}) if the services have room, or add "
                "orchestrator replicas.",
                WARNING,
                [
                    Figure(f"queue.{priority}.wait_p95", p95, "ms"),
                    Figure("workers", snapshot.workers, "count"),
                ],
            )


def _cache(snapshot: Snapshot):
    if snapshot.redis_note:
        yield Recommendation(
            "The shared cache (Redis) is unavailable",
            f"Results are cached in this process only: {snapshot.redis_note}",
            WARNING,
            [Figure("cache_hit_rate", snapshot.cache_hit_rate, "ratio")],
        )
    if snapshot.cache_lookups < MIN_LOOKUPS:
        return
    rate = Figure("cache_hit_rate", snapshot.cache_hit_rate, "ratio")
    if (
        snapshot.l1_size
        and snapshot.l1_entries >= snapshot.l1_size
        and snapshot.cache_hit_rate < 0.5
    ):
        yield Recommendation(
            "The in-process cache is full",
            "Entries are evicted before they are asked for again: raise cache_l1_size"
            + ("." if snapshot.redis_configured else ", or set AIORCH_REDIS_URL for a larger one."),
            WARNING,
            [rate, Figure("l1_entries", snapshot.l1_entries, "count")],
        )
    elif snapshot.cache_hit_rate >= 0.2 and not snapshot.redis_configured:
        yield Recommendation(
            "Share the cache between replicas",
            "Repeated requests are common here; with AIORCH_REDIS_URL every replica serves "
            "what any of them computed.",
            INFO,
            [rate, Figure("cache_lookups", snapshot.cache_lookups, "count")],
        )


def measure(settings, scheduler, cache, stats, breakers) -> Snapshot:
    """The figures an orchestrator has measured so far: its `scheduler`'s queue waits, its
    result `cache`, its call `stats` and circuit `breakers` per service."""
    budgets: dict[str, float] = {}
    for spec in WORKFLOWS.values():
        for service in spec.services:
            budget = spec.timeout(settings)
            budgets[service] = min(budgets.get(service, budget), budget)
    waits = {
        PRIORITY_NAMES[priority]: (len(waits), percentile([s * 1000 for s in waits], 95))
        for priority, waits in scheduler.waits.items()
    }
    levels, hit_rate = cache.stats()
    return Snapshot(
        services=stats.figures(),
        breakers={name: breaker.state for name, breaker in breakers.items()},
        budgets=budgets,
        queue_waits_ms=waits,
        workers=scheduler.workers,
        cache_lookups=levels[0].hits + levels[0].misses,
        cache_hit_rate=hit_rate,
        l1_entries=levels[0].entries,
        l1_size=settings.cache_l1_size,
        redis_configured=cache.redis is not None,
        redis_note=cache.redis_note,
    )
