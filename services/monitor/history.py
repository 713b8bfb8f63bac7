"""History: a bounded ring of (time, value) per metric, with downsampling and summaries.

Each ring is a pair of preallocated float64 arrays rather than a deque of tuples: 16 bytes
a point instead of about 100, and a window is an array slice that numpy averages and
ranks without a Python loop. An hour at one sample a second is 3,600 points a metric.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from services.common.advice import percentile
from services.common.errors import InvalidInput, Violation

MAX_NAME_CHARS = 200
MAX_PATTERNS = 100


class Ring:
    """The last `capacity` points of one metric, oldest overwritten first."""

    def __init__(self, capacity: int):
        self.times = np.empty(capacity)
        self.values = np.empty(capacity)
        self.size = 0
        self.next = 0

    def append(self, time: float, value: float) -> None:
        self.times[self.next] = time
        self.values[self.next] = value
        self.next = (self.next + 1) % len(self.times)
        self.size = min(self.size + 1, len(self.times))

    def since(self, start: float) -> tuple[np.ndarray, np.ndarray]:
        """Points at or after `start`, oldest first."""
        if self.size < len(self.times):
            times, values = self.times[: self.size], self.values[: self.size]
        else:  # full: the oldest point is the one to be overwritten next
            order = np.r_[self.next : self.size, 0 : self.next]
            times, values = self.times[order], self.values[order]
        # A mask, not a binary search: a wall clock stepped back leaves times unsorted.
        keep = times >= start
        return times[keep], values[keep]


@dataclass(frozen=True)
class Summary:
    name: str
    unit: str
    samples: int
    min: float = 0.0
    avg: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class Series:
    name: str
    unit: str
    points: list[tuple[float, float]]  # (start of step, average over it), oldest first


class History:
    def __init__(self, retention_seconds: float, interval_seconds: float):
        self.retention = retention_seconds
        self.capacity = math.ceil(retention_seconds / interval_seconds) + 1
        self.rings: dict[str, Ring] = {}
        self.units: dict[str, str] = {}

    def record(self, time: float, metrics: Mapping[str, tuple[float, str]]) -> None:
        for name, (value, unit) in metrics.items():
            ring = self.rings.get(name)
            if ring is None:
                ring = self.rings[name] = Ring(self.capacity)
            ring.append(time, value)
            self.units[name] = unit

    def select(self, patterns: Sequence[str], field: str = "metrics") -> list[str]:
        """Known metric names matching any of `patterns` (exact names or globs such as
        `cpu.*.percent`); all names when there are none. A pattern that matches nothing
        is an error naming its position."""
        names = sorted(self.rings)
        if not patterns:
            return names
        if len(patterns) > MAX_PATTERNS:
            raise InvalidInput(field, f"has {len(patterns)} names, more than {MAX_PATTERNS}")
        chosen: set[str] = set()
        problems = []
        for i, pattern in enumerate(patterns):
            if len(pattern) > MAX_NAME_CHARS:
                problems.append(Violation(f"{field}[{i}]", f"longer than {MAX_NAME_CHARS}"))
                continue
            matched = matching(names, [pattern])
            if not matched:
                problems.append(Violation(f"{field}[{i}]", f"unknown metric {pattern!r}"))
            chosen.update(matched)
        if problems:
            raise InvalidInput(violations=problems)
        return sorted(chosen)

    def series(self, name: str, start: float, step: float) -> Series:
        """Points of `name` since `start`, averaged over steps aligned to multiples of
        `step` (so repeated queries see the same buckets)."""
        times, values = self.rings[name].since(start)
        if not len(times):
            return Series(name, self.units[name], [])
        buckets = np.floor(times / step)
        first = buckets.min()
        index = (buckets - first).astype(np.int64)
        sums = np.bincount(index, weights=values)
        counts = np.bincount(index)
        filled = np.nonzero(counts)[0]
        points = [(float((first + i) * step), float(sums[i] / counts[i])) for i in filled.tolist()]
        return Series(name, self.units[name], points)

    def summary(self, name: str, start: float) -> Summary:
        _, values = self.rings[name].since(start)
        unit = self.units[name]
        if not len(values):
            return Summary(name, unit, 0)
        p50, p95 = percentile(values, 50), percentile(values, 95)
        return Summary(
            name,
            unit,
            len(values),
            min=float(values.min()),
            avg=float(values.mean()),
            p50=float(p50),
            p95=float(p95),
            max=float(values.max()),
        )

    def values(self, name: str, start: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, values) of `name` since `start`; empty arrays for an unknown name."""
        ring = self.rings.get(name)
        return ring.since(start) if ring else (np.empty(0), np.empty(0))


def matching(names: Iterable[str], patterns: Sequence[str]) -> list[str]:
    """The names equal to a pattern or matching it as a glob, in the order given."""
    exact = set(patterns)
    globs = [p for p in patterns if "*" in p or "?" in p or "[" in p]
    return [n for n in names if n in exact or any(fnmatch.fnmatchcase(n, g) for g in globs)]
