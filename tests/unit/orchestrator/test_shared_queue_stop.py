"""The shared queue's taker stops when asked, even as work arrives at that moment.

On Python 3.11, asyncio.wait_for swallows a cancel that comes within a turn or two of
the awaited event being set: a loop waiting that way never stops, and neither does the
orchestrator that waits for it (seen as a test run hung for 90 minutes in CI)."""

from __future__ import annotations

import asyncio
import re
import types

from services.common.settings import PROJECT_ROOT
from services.orchestrator.shared_queue import SharedQueue


class _Store:
    async def take(self, owner, lease_until, limit):
        return []

    async def queued(self):
        return {}


def _queue() -> SharedQueue:
    scheduler = types.SimpleNamespace(room=lambda: 1, workers=1, mean_run_seconds=1.0)
    leases = types.SimpleNamespace(owner="me", until=lambda: 0)
    return SharedQueue(_Store(), None, scheduler, leases, sizes={}, replicas=1)


async def test_the_taker_ends_when_cancelled_even_as_a_run_frees_a_worker():
    for turns in range(6):  # the cancel lands that many loop turns after the wake-up
        queue = _queue()
        queue.start()
        await asyncio.sleep(0.01)  # the taker waits for a wake-up
        queue.freed()  # the last run ended (its record written) just as the stop comes
        for _ in range(turns):
            await asyncio.sleep(0)
        queue._task.cancel()  # what stop() does, once the depth loop has stopped
        done, _ = await asyncio.wait({queue._task}, timeout=1)
        assert done, f"the taker went on after a cancel {turns} turns after the wake-up"
        await queue.stop()


def test_no_service_waits_through_wait_for():
    # The rule above, kept everywhere: asyncio.timeout around the await instead.
    waits = re.compile(r"\bwait_for\(")
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{n}"
        for path in (PROJECT_ROOT / "services").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if waits.search(line)
    ]
    assert not found
