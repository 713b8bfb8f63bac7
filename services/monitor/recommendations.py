"""Recommendations from the metrics history, each with the figures it rests on.

Every rule reads the history over the same window and either says nothing or returns one
recommendation; when none speaks, the reply says so with the figures that were checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.common.advice import CRITICAL, INFO, WARNING, Figure, Recommendation, ranked
from services.monitor.alerts import AlertBook, Threshold
from services.monitor.history import History, Summary

MIN_SAMPLES = 10
MIB = 1024 * 1024


@dataclass(frozen=True)
class Context:
    history: History
    alerts: AlertBook
    cores: int
    start: float
    minutes: float

    def level(self, metric: str, value: float) -> int | None:
        """Severity of `value` against the metric's alert threshold, if it reaches one."""
        threshold: Threshold | None = self.alerts.threshold_for(metric)
        if threshold is None or value < threshold.warning:
            return None
        return CRITICAL if value >= threshold.critical else WARNING

    def summary(self, name: str) -> Summary | None:
        """The metric over the window; None when it has no samples there."""
        if name not in self.history.rings:
            return None
        found = self.history.summary(name, self.start)
        return found if found.samples else None

    def names(self, prefix: str, suffix: str) -> list[str]:
        return [n for n in self.history.rings if n.startswith(prefix) and n.endswith(suffix)]


def recommend(
    history: History, alerts: AlertBook, cores: int, now: float, window: float
) -> list[Recommendation]:
    """Most important first."""
    ctx = Context(history, alerts, cores, now - window, window / 60)
    cpu = ctx.summary("cpu.percent")
    if cpu is None or cpu.samples < MIN_SAMPLES:
        samples = cpu.samples if cpu else 0
        return [
            Recommendation(
                "Too little history to judge yet",
                f"{samples} samples so far; recommendations need at least {MIN_SAMPLES}.",
                INFO,
                (Figure("samples", samples, "count"),),
            )
        ]
    found = [r for rule in RULES if (r := rule(ctx)) is not None]
    if not found:
        found = [_all_clear(ctx)]
    return ranked(found)


def _cpu(ctx: Context) -> Recommendation | None:
    cpu = ctx.summary("cpu.percent")
    severity = ctx.level("cpu.percent", cpu.p95) if cpu else None
    if cpu is None or severity is None:
        return None
    figures = [
        Figure("cpu.percent.p95", cpu.p95, "percent"),
        Figure("cpu.percent.avg", cpu.avg, "percent"),
        Figure("cpu.cores", ctx.cores, "count"),
    ]
    busiest = _busiest(ctx, ".cpu")
    where = ""
    if busiest:
        figures.append(Figure(f"{busiest[0]}.avg", busiest[1], "percent"))
        where = f" The busiest suite process is {busiest[0].split('.')[1]}."
    return Recommendation(
        "Add CPU: the host is busy most of the time",
        f"cpu.percent was {cpu.p95:.0f}% or more in 5% of the last {ctx.minutes:.0f} min"
        f" (average {cpu.avg:.0f}%). Add cores, or run the busiest service elsewhere.{where}",
        severity,
        tuple(figures),
    )


def _hot_core(ctx: Context) -> Recommendation | None:
    if ctx.cores < 2:
        return None
    averages = {n: s.avg for n in ctx.names("cpu.", ".percent") if (s := ctx.summary(n))}
    overall = averages.pop("cpu.percent", 0.0)
    if not averages:
        return None
    hottest = max(averages, key=averages.__getitem__)
    if averages[hottest] < 90 or overall >= 60:
        return None
    return Recommendation(
        "One core is saturated while the others have room",
        f"{hottest} averaged {averages[hottest]:.0f}% against {overall:.0f}% for the host: a"
        " single-threaded process is the bottleneck. Give it more workers or replicas.",
        WARNING,
        (
            Figure(f"{hottest}.avg", averages[hottest], "percent"),
            Figure("cpu.percent.avg", overall, "percent"),
        ),
    )


def _load(ctx: Context) -> Recommendation | None:
    load = ctx.summary("load.1m")
    if load is None or load.p95 / ctx.cores < 1.5:
        return None
    return Recommendation(
        "More runnable tasks than cores",
        f"The 1-minute load reached {load.p95:.1f} (p95) on {ctx.cores} cores: work waits for"
        " CPU. Reduce concurrency or add cores.",
        WARNING,
        (
            Figure("load.1m.p95", load.p95, "tasks"),
            Figure("cpu.cores", ctx.cores, "count"),
            Figure("load_per_core", load.p95 / ctx.cores, "ratio"),
        ),
    )


def _memory(ctx: Context) -> Recommendation | None:
    memory = ctx.summary("memory.percent")
    severity = ctx.level("memory.percent", memory.p95) if memory else None
    if memory is None or severity is None:
        return None
    figures = [Figure("memory.percent.p95", memory.p95, "percent")]
    available = ctx.summary("memory.available")
    least = ""
    if available:
        figures.append(Figure("memory.available.min", available.min, "bytes"))
        least = f"; as little as {available.min / MIB:.0f} MiB was available"
    largest = _busiest(ctx, ".rss")
    if largest:
        figures.append(Figure(f"{largest[0]}.avg", largest[1], "bytes"))
    return Recommendation(
        "Memory is nearly full",
        f"memory.percent was {memory.p95:.0f}% or more in 5% of the last {ctx.minutes:.0f} min"
        f"{least}. Add memory or move a service elsewhere.",
        severity,
        tuple(figures),
    )


def _swap(ctx: Context) -> Recommendation | None:
    _, used = ctx.history.values("swap.used", ctx.start)
    if len(used) < 2 or used[-1] - used[0] < 64 * MIB:
        return None
    growth = used[-1] - used[0]
    return Recommendation(
        "The host has started swapping",
        f"Swap in use grew by {growth / MIB:.0f} MiB in the last {ctx.minutes:.0f} min; swapped"
        " services answer slowly. Add memory or run fewer processes here.",
        WARNING,
        (Figure("swap.used.growth", growth, "bytes"), Figure("swap.used", used[-1], "bytes")),
    )


def _disk(ctx: Context) -> Recommendation | None:
    found = [r for name in ctx.names("disk./", ".percent") if (r := _mount(ctx, name))]
    return max(found, key=lambda r: r.severity, default=None)


def _mount(ctx: Context, name: str) -> Recommendation | None:
    mount = name.removeprefix("disk.").removesuffix(".percent")
    _, percent = ctx.history.values(name, ctx.start)
    if not len(percent):
        return None
    figures = [Figure(name, percent[-1], "percent")]
    severity = ctx.level(name, percent[-1])
    detail = f"{mount} is {percent[-1]:.0f}% full."
    growth = _growth(ctx, mount)
    if growth is not None:
        rate, hours = growth
        figures += [
            Figure(f"disk.{mount}.growth", rate, "bytes/s"),
            Figure(f"disk.{mount}.hours_to_full", hours, "hours"),
        ]
        if hours < 24:
            by_rate = CRITICAL if hours < 6 else WARNING
            severity = max(severity or by_rate, by_rate)
            detail += f" At the rate of the last {ctx.minutes:.0f} min it is full in {hours:.1f} h."
    if severity is None:
        return None
    return Recommendation(
        f"Free space on {mount}",
        detail + " Delete or move data, or grow the volume.",
        severity,
        tuple(figures),
    )


def _growth(ctx: Context, mount: str) -> tuple[float, float] | None:
    """Bytes a second the mount fills at (a line fitted to its use) and hours until full."""
    times, used = ctx.history.values(f"disk.{mount}.used", ctx.start)
    _, free = ctx.history.values(f"disk.{mount}.free", ctx.start)
    if len(used) < MIN_SAMPLES or not len(free) or times.max() - times.min() < 60:
        return None
    rate = float(np.polyfit(times - times.min(), used, 1)[0])
    return (rate, float(free[-1] / rate / 3600)) if rate > 0 else None


def _process_growth(ctx: Context) -> Recommendation | None:
    for name in ctx.names("process.", ".rss"):
        times, rss = ctx.history.values(name, ctx.start)
        if len(rss) < MIN_SAMPLES or times[-1] - times[0] < 600:
            continue
        tenth = max(1, len(rss) // 10)
        early, late = float(np.median(rss[:tenth])), float(np.median(rss[-tenth:]))
        if late - early < max(100 * MIB, 0.25 * early):
            continue
        service = name.split(".")[1]
        return Recommendation(
            f"{service} keeps growing in memory",
            f"Its resident memory went from {early / MIB:.0f} MiB to {late / MIB:.0f} MiB over"
            f" {(times[-1] - times[0]) / 60:.0f} min without falling back: look for a leak or"
            " an unbounded cache.",
            WARNING,
            (Figure(f"{name}.early", early, "bytes"), Figure(f"{name}.late", late, "bytes")),
        )
    return None


def _network_errors(ctx: Context) -> Recommendation | None:
    errors = ctx.summary("net.errors.percent")
    if errors is None or errors.max <= 0:
        return None
    return Recommendation(
        "Network packets in error",
        f"Up to {errors.max:.2f}% of packets were in error (average {errors.avg:.3f}%): check"
        " the interface, its driver and the link.",
        ctx.level("net.errors.percent", errors.avg) or INFO,
        (
            Figure("net.errors.percent.max", errors.max, "percent"),
            Figure("net.errors.percent.avg", errors.avg, "percent"),
        ),
    )


def _all_clear(ctx: Context) -> Recommendation:
    figures = [
        Figure(f"{name}.p95", found.p95, "percent")
        for name in ("cpu.percent", "memory.percent", *ctx.names("disk./", ".percent"))
        if (found := ctx.summary(name))
    ]
    return Recommendation(
        "No change needed",
        f"Over the last {ctx.minutes:.0f} min CPU, memory, disks and network stayed below"
        " their warning thresholds.",
        INFO,
        tuple(figures),
    )


def _busiest(ctx: Context, suffix: str) -> tuple[str, float] | None:
    averages = {n: found.avg for n in ctx.names("process.", suffix) if (found := ctx.summary(n))}
    if not averages:
        return None
    name = max(averages, key=averages.__getitem__)
    return name, averages[name]


RULES: tuple[Callable[[Context], Recommendation | None], ...] = (
    _cpu,
    _hot_core,
    _load,
    _memory,
    _swap,
    _disk,
    _process_growth,
    _network_errors,
)
