"""MetricsRecorder: samples at a steady interval in the background (the host, and the
services' API figures when given an ApiSampler), keeps the history, evaluates the alerts
and hands every sample to the watchers of WatchMetrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.common.errors import Overloaded
from services.common.loops import Repeat
from services.monitor.alerts import AlertBook, Level
from services.monitor.api import ApiSampler
from services.monitor.history import History
from services.monitor.sampler import Metrics, Sampler

log = logging.getLogger("aiorch.monitor")

# Rates and CPU percentages need some time between two readings; the first sample waits
# this long (or one interval, when shorter) after the baseline.
FIRST_SAMPLE_DELAY = 0.25
# Samples queued for one watcher; a watcher slower than that loses the oldest ones.
WATCH_BUFFER = 8


@dataclass(frozen=True)
class Sample:
    time: float  # seconds since the epoch
    metrics: Metrics


class MetricsRecorder:
    def __init__(
        self,
        sampler: Sampler,
        history: History,
        alerts: AlertBook,
        interval: float,
        max_watchers: int = 100,
        clock: Callable[[], float] = time.time,
        api: ApiSampler | None = None,
    ):
        self.sampler = sampler
        self.history = history
        self.alerts = alerts
        self.interval = interval
        self.max_watchers = max_watchers
        self.clock = clock
        self.api = api
        self._latest: Sample | None = None
        self._watchers: set[asyncio.Queue] = set()
        self._loop = Repeat("metrics-recorder", interval, self._take)

    @property
    def latest(self) -> Sample:
        """The newest sample (`start` takes one before the service serves)."""
        assert self._latest is not None, "read before the recorder started"
        return self._latest

    async def start(self) -> None:
        """Takes the first sample, so a serving monitor always has one, then goes on in the
        background."""
        await asyncio.sleep(min(self.interval, FIRST_SAMPLE_DELAY))
        await self._take()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _take(self) -> None:
        # In a worker thread: a statvfs on a stuck network mount would block the loop.
        metrics = await asyncio.to_thread(self._sample)
        sample = Sample(self.clock(), metrics)
        self.history.record(sample.time, metrics)
        for alert in self.alerts.observe(sample.time, metrics):
            firing = alert.resolved_at is None
            log.log(
                logging.WARNING if firing and alert.level == Level.CRITICAL else logging.INFO,
                "alert firing" if firing else "alert resolved",
                extra={"metric": alert.metric, "severity": alert.level.name.lower()},
            )
        self._latest = sample
        for queue in self._watchers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(sample)

    def _sample(self) -> Metrics:
        metrics = self.sampler.sample()
        if self.api is not None:
            metrics.update(self.api.sample(self.clock()))
        return metrics

    @contextlib.contextmanager
    def watch(self):
        """A queue that receives every new sample while the block runs."""
        if len(self._watchers) >= self.max_watchers:
            raise Overloaded(f"{len(self._watchers)} watchers already", retry_after=5.0)
        queue: asyncio.Queue[Sample] = asyncio.Queue(maxsize=WATCH_BUFFER)
        self._watchers.add(queue)
        try:
            yield queue
        finally:
            self._watchers.discard(queue)
