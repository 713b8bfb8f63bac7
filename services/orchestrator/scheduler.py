"""Admission and order of work: a bounded queue per priority and a fixed set of workers.

Workers always take from the highest priority queue that holds work. Admission is a
reservation (`reserve`) taken before anything is stored, so a full queue refuses a request
(Overloaded, with how long to wait) without leaving a stored workflow nobody will run. It
bounds both the count per priority and the bytes of all requests waiting (a few large
transcripts weigh more than many short texts); a batch's items each hold a reservation
until they run. Work that was accepted earlier and must run whatever the load (resumed
after a restart) enters without one.

Each job runs in a task of its own, so cancelling one job cancels exactly its await chain,
down to its in-flight gRPC calls. There are no worker tasks: a job starts as soon as it
is submitted while fewer than `workers` run, and each job that ends starts the next one
queued. (Worker tasks fed through a semaphore cost each workflow two task switches and an
asyncio.wait on the way in, and bounded nothing more.)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from services.common.errors import Overloaded, Unavailable
from services.orchestrator import metrics

Job = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class _Entry:
    key: str
    priority: int
    job: Job
    enqueued_at: float
    size: int = 0
    # The submitting call's context (its trace span, its caller), which the job runs in.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


@dataclass
class Ticket:
    """A place reserved in the queue of one priority, for a request of `size` bytes."""

    priority: int
    size: int = 0
    used: bool = field(default=False)


class Scheduler:
    def __init__(
        self, sizes: dict[int, int], workers: int, max_bytes: int = 2**62, clock=time.monotonic
    ):
        self.sizes = dict(sizes)
        self.max_bytes = max_bytes
        self.queued_bytes = 0  # reserved or queued, not yet running
        self.order = sorted(sizes, reverse=True)  # highest priority first
        self.workers = workers
        self.clock = clock
        self._queues: dict[int, deque[_Entry]] = {p: deque() for p in sizes}
        self._reserved = dict.fromkeys(sizes, 0)
        self.running: dict[str, asyncio.Task] = {}
        self.started = False
        self.closed = False
        # Recent waits in the queue, per priority, and a running mean of job durations
        # (for Retry-After and for Optimize).
        self.waits: dict[int, deque[float]] = {p: deque(maxlen=1000) for p in sizes}
        self.mean_run_seconds = 0.0

    def start(self) -> None:
        """Jobs run from now on (those submitted before wait until then)."""
        self.started = True
        self._dispatch()

    def room(self) -> int:
        """How many more jobs would start at once (none while stopping)."""
        if self.closed:
            return 0
        waiting = sum(len(queue) for queue in self._queues.values())
        return max(0, self.workers - len(self.running) - waiting)

    def queued(self, priority: int) -> int:
        return len(self._queues[priority])

    def reserve(self, priority: int, size: int = 0) -> Ticket:
        """A place in the queue of `priority` for `size` bytes, or Overloaded when the
        queue is full (or the bytes waiting would pass the limit)."""
        if self.closed:  # nothing is stored yet: another replica may take it as it is
            raise Unavailable("the orchestrator is stopping", retry_safe=True)
        if self.queued(priority) + self._reserved[priority] >= self.sizes[priority]:
            raise Overloaded(
                f"the queue of this priority is full ({self.sizes[priority]} workflows)",
                retry_after=self.retry_after(priority),
            )
        if self.queued_bytes and self.queued_bytes + size > self.max_bytes:
            raise Overloaded(
                f"the queue holds {self.queued_bytes // 2**20} MiB of requests, its limit",
                retry_after=self.retry_after(priority),
            )
        self._reserved[priority] += 1
        self.queued_bytes += size
        return Ticket(priority, size)

    def release(self, ticket: Ticket) -> None:
        """Gives back a place that will not be used."""
        if not ticket.used:
            ticket.used = True
            self._reserved[ticket.priority] -= 1
            self.queued_bytes -= ticket.size

    def submit(
        self, key: str, job: Job, ticket: Ticket | None = None, *, priority=None, waited=0.0
    ) -> None:
        """Queues `job` on a reserved place, or with `priority` and no limit (forced);
        `waited`: seconds it already waited elsewhere (the shared queue), which count in
        its wait."""
        size = 0
        if ticket is not None:
            self.release(ticket)
            priority, size = ticket.priority, ticket.size
        self.queued_bytes += size
        self._queues[priority].append(_Entry(key, priority, job, self.clock() - waited, size))
        self._dispatch()

    def remove(self, key: str) -> bool:
        """Takes a job out of its queue before it started; False when it is not queued."""
        for queue in self._queues.values():
            for entry in queue:
                if entry.key == key:
                    queue.remove(entry)
                    self.queued_bytes -= entry.size
                    return True
        return False

    def retry_after(self, priority: int) -> float:
        """Seconds until the queue of `priority` has likely drained enough for one more."""
        ahead = sum(self.queued(p) for p in self.order if p >= priority)
        estimate = ahead * max(self.mean_run_seconds, 0.05) / self.workers
        return float(min(60, max(1, math.ceil(estimate))))

    def _dispatch(self) -> None:
        """Starts queued jobs, highest priority first, while fewer than `workers` run."""
        while self.started and not self.closed and len(self.running) < self.workers:
            entry = next((q.popleft() for p in self.order if (q := self._queues[p])), None)
            if entry is None:
                return
            self.queued_bytes -= entry.size
            started = self.clock()
            self.waits[entry.priority].append(started - entry.enqueued_at)
            metrics.queue_wait(entry.priority, started - entry.enqueued_at)
            task = asyncio.create_task(entry.job(), context=entry.context)
            self.running[entry.key] = task
            task.add_done_callback(functools.partial(self._ended, entry.key, started))

    def _ended(self, key: str, started: float, task: asyncio.Task) -> None:
        if self.running.get(key) is task:
            del self.running[key]
        self.mean_run_seconds += 0.1 * ((self.clock() - started) - self.mean_run_seconds)
        self._dispatch()

    async def stop(self, grace: float, before_cancel: Callable[[], None] = lambda: None) -> None:
        """Refuses new work, lets running jobs finish within `grace`, then cancels them.

        Queued jobs are dropped from memory: their workflows are stored as PENDING and
        resume when an orchestrator starts again."""
        self.closed = True
        for queue in self._queues.values():
            self.queued_bytes -= sum(entry.size for entry in queue)
            queue.clear()
        running = set(self.running.values())
        if running:
            await asyncio.wait(running, timeout=grace)
        before_cancel()
        tasks = tuple(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
