import asyncio
import itertools

from services.common.loops import Repeat


async def test_ticks_repeat_until_stopped_and_a_failed_one_does_not_end_them():
    ticks = []

    async def tick():
        ticks.append(len(ticks))
        if len(ticks) == 2:
            raise RuntimeError("one bad pass")

    async with Repeat("test", 0.01, tick):
        await asyncio.sleep(0.1)
    seen = len(ticks)
    await asyncio.sleep(0.05)
    assert seen >= 4  # went on after the second tick raised
    assert len(ticks) == seen  # and stopped with the block


async def test_an_overrun_skips_the_missed_ticks_instead_of_bursting():
    started = []

    async def slow():
        started.append(asyncio.get_running_loop().time())
        if len(started) == 1:
            await asyncio.sleep(0.1)  # five periods long

    loop = Repeat("test", 0.02, slow)
    loop.start(first_in=0.0)
    await asyncio.sleep(0.16)
    await loop.stop()
    gaps = [b - a for a, b in itertools.pairwise(started[1:])]
    assert all(gap >= 0.015 for gap in gaps)  # on the grid again, no catch-up burst
