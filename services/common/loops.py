"""Work repeated in the background until stopped: lease renewals, metric samples,
retention passes. One lifecycle for all of them, so each stops the same way and none
dies of one failed pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable

log = logging.getLogger("aiorch.loops")


class Repeat:
    """Runs `tick` every `seconds` in a task of its own, from `start` until `stop`.

    Ticks keep to a fixed grid: after an overrun (a slow pass, a suspended laptop) the
    missed ones are skipped rather than run in a burst. A tick that raises is logged and
    the next one runs as planned."""

    def __init__(self, name: str, seconds: float, tick: Callable[[], Awaitable[None]]):
        self.name = name
        self.seconds = seconds
        self.tick = tick
        self._task: asyncio.Task | None = None

    def start(self, first_in: float | None = None) -> None:
        """The first tick comes after `first_in` seconds (a whole period by default)."""
        self._task = asyncio.create_task(
            self._run(self.seconds if first_in is None else first_in), name=self.name
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> Repeat:
        self.start(first_in=0.0)
        return self

    async def __aexit__(self, *_) -> None:
        await self.stop()

    async def _run(self, first_in: float) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + first_in
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.tick()
            except Exception:
                log.exception(
                    "a pass failed; the next one runs as planned", extra={"loop": self.name}
                )
            next_at += self.seconds
            behind = loop.time() - next_at
            if behind > 0:
                next_at += math.ceil(behind / self.seconds) * self.seconds
