"""A circuit breaker per downstream service: after consecutive failures calls fail fast
for a while, then one probe call decides whether the service is back.

Pure logic over an injectable clock; the executor asks `allow()` before a call and reports
its outcome with `succeeded()` / `failed()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.probing = False

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return State.CLOSED
        if self.probing or self.clock() - self.opened_at >= self.reset_seconds:
            return State.HALF_OPEN
        return State.OPEN

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.reset_seconds - self.clock())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open, only one probe at a time."""
        state = self.state
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self.probing = False

    def failed(self) -> None:
        self.consecutive_failures += 1
        if self.probing or self.consecutive_failures >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False

    def reconnected(self, at: float) -> None:
        """The service became reachable again at `at` (a restart): a breaker that opened
        before then starts afresh instead of waiting out its reset time."""
        if self.opened_at is not None and at > self.opened_at:
            self.succeeded()

    def abandoned(self) -> None:
        """An allowed call that ended without telling anything (cancelled by its caller)."""
        self.probing = False
