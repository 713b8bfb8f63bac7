"""AlertBook: thresholds per metric, a hold against flapping, and the firing -> resolved
lifecycle with timestamps.

Pure over (time, metrics): the caller passes the time of each sample, so tests drive the
clock. A level (warning, critical) is entered only after the value has stayed at or past
its threshold for `hold_seconds`, and left only after it has stayed within as long; a
metric has at most one alert at a time, whose severity follows the level it is held at.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum


class Level(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclass(frozen=True)
class Threshold:
    """Levels of the metrics named by `pattern` (a name or a glob such as disk.*.percent);
    a value at or above a level's figure is at that level, or at or below it for a metric
    where less is worse (`below`: a service's `up`, 1 while it answers, 0 when not)."""

    pattern: str
    warning: float
    critical: float
    below: bool = False

    def __post_init__(self):
        if self.worse(self.warning, self.critical) and self.warning != self.critical:
            raise ValueError(
                f"alert threshold of {self.pattern}: warning {self.warning:g} is"
                f" {'below' if self.below else 'above'} critical {self.critical:g}"
            )

    def of(self, level: Level) -> float:
        return self.critical if level == Level.CRITICAL else self.warning

    def worse(self, value: float, than: float) -> bool:
        """Whether `value` is at `than` or past it on the bad side."""
        return value <= than if self.below else value >= than

    def worst(self, a: float, b: float) -> float:
        return min(a, b) if self.below else max(a, b)


@dataclass(frozen=True)
class Alert:
    metric: str
    level: Level
    threshold: float
    value: float  # the worst value seen while firing
    unit: str
    fired_at: float
    resolved_at: float | None = None
    below: bool = False  # the threshold's direction

    @property
    def message(self) -> str:
        state = "was" if self.resolved_at is not None else "is"
        side = "below" if self.below else "above"
        return (
            f"{self.metric} {state} at or {side} the {self.level.name.lower()} threshold of"
            f" {self.threshold:g} {self.unit} (worst {self.value:.4g})"
        )


@dataclass
class _Track:
    level: Level = Level.OK
    # Since when the value has been continuously past (within) each level's threshold.
    past: dict[Level, float] = field(default_factory=dict)
    within: dict[Level, float] = field(default_factory=dict)
    peak: float | None = None  # worst value since it last went past the warning level
    alert: Alert | None = None


class AlertBook:
    def __init__(self, thresholds: Sequence[Threshold], hold_seconds: float, history: int = 500):
        self.thresholds = tuple(thresholds)
        self.hold = hold_seconds
        self.resolved: deque[Alert] = deque(maxlen=history)  # newest first
        self._tracks: dict[str, _Track] = {}
        self._matches: dict[str, Threshold | None] = {}

    def threshold_for(self, metric: str) -> Threshold | None:
        if metric not in self._matches:
            self._matches[metric] = next(
                (t for t in self.thresholds if fnmatch.fnmatchcase(metric, t.pattern)), None
            )
        return self._matches[metric]

    @property
    def active(self) -> list[Alert]:
        """Alerts firing now, the most severe first, then the oldest."""
        alerts = [t.alert for t in self._tracks.values() if t.alert is not None]
        return sorted(alerts, key=lambda a: (-a.level, a.fired_at, a.metric))

    def observe(self, time: float, metrics: Mapping[str, tuple[float, str]]) -> list[Alert]:
        """Takes one sample; returns the alerts that fired, changed severity or resolved."""
        changed = []
        for metric, (value, unit) in metrics.items():
            threshold = self.threshold_for(metric)
            if threshold is None:
                continue
            track = self._tracks.setdefault(metric, _Track())
            alert = self._step(track, threshold, metric, time, value, unit)
            if alert is not None:
                changed.append(alert)
        return changed

    def _step(self, track, threshold, metric, time, value, unit) -> Alert | None:
        for level in (Level.WARNING, Level.CRITICAL):
            if threshold.worse(value, threshold.of(level)):
                track.past.setdefault(level, time)
                track.within.pop(level, None)
            else:
                track.within.setdefault(level, time)
                track.past.pop(level, None)
        if threshold.worse(value, threshold.warning):
            track.peak = value if track.peak is None else threshold.worst(track.peak, value)
        elif track.level == Level.OK:
            track.peak = None
        new = track.level
        for level in (Level.CRITICAL, Level.WARNING):
            if level > new and self._held(track.past, level, time):
                new = level
                break
        while new > Level.OK and self._held(track.within, new, time):
            new = Level(new - 1)
        alert = track.alert
        if alert is not None:
            alert = dataclasses.replace(alert, value=threshold.worst(alert.value, value))
        changed = new != track.level
        if changed and track.level == Level.OK:
            alert = Alert(
                metric, new, threshold.of(new), track.peak, unit, time, below=threshold.below
            )
        elif changed and new == Level.OK:
            alert = dataclasses.replace(alert, resolved_at=time)
            self.resolved.appendleft(alert)
        elif changed:
            alert = dataclasses.replace(alert, level=new, threshold=threshold.of(new))
        track.level = new
        track.alert = alert if new != Level.OK else None
        return alert if changed else None

    def _held(self, since: dict[Level, float], level: Level, time: float) -> bool:
        return level in since and time - since[level] >= self.hold
