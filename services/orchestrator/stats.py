"""Measured figures of the orchestrator's own calls, kept in memory for Optimize: latency
of each downstream service over its recent calls, and how many of them failed."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from services.common.advice import percentile

WINDOW = 1000  # recent calls per service


@dataclass(frozen=True)
class ServiceFigures:
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


class CallStats:
    def __init__(self, window: int = WINDOW):
        self._calls: dict[str, deque[tuple[float, bool]]] = defaultdict(
            lambda: deque(maxlen=window)
        )

    def record(self, service: str, seconds: float, failed: bool) -> None:
        self._calls[service].append((seconds, failed))

    def figures(self) -> dict[str, ServiceFigures]:
        found = {}
        for service, calls in self._calls.items():
            ms = [seconds * 1000 for seconds, _ in calls]
            found[service] = ServiceFigures(
                calls=len(calls),
                errors=sum(failed for _, failed in calls),
                p50_ms=percentile(ms, 50),
                p95_ms=percentile(ms, 95),
                p99_ms=percentile(ms, 99),
            )
        return found
