"""Deadlines that travel: outgoing calls get the time the incoming call has left."""

from __future__ import annotations

import time


class Deadline:
    """An absolute point in monotonic time, shared by every step of one piece of work."""

    def __init__(self, at: float):
        self.at = at

    @classmethod
    def within(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self, margin: float = 0.0) -> float:
        """Seconds left for a downstream call, keeping `margin` back for our own reply."""
        return max(0.0, self.at - time.monotonic() - margin)

    def wall_clock(self) -> float:
        """The deadline as seconds since the epoch, for records and clients."""
        return time.time() + (self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def earliest(self, seconds: float | None) -> Deadline:
        """This deadline, or an earlier one `seconds` from now."""
        if seconds is None:
            return self
        return Deadline(min(self.at, time.monotonic() + seconds))


def call_timeout(context, margin: float) -> float | None:
    """Timeout for a call made while serving `context`: what its caller left, less margin."""
    remaining = context.time_remaining()
    return None if remaining is None else max(0.0, remaining - margin)
