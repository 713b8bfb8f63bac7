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

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def earliest(self, seconds: float | None) -> Deadline:
        """This deadline, or an earlier one `seconds` from now."""
        if seconds is None:
            return self
        return Deadline(min(self.at, time.monotonic() + seconds))
