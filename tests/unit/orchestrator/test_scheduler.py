import asyncio

import pytest

from services.common.errors import Overloaded, Unavailable
from services.orchestrator.scheduler import Scheduler

HIGH, NORMAL, LOW = 3, 2, 1


def scheduler(size=10, workers=1) -> Scheduler:
    return Scheduler({HIGH: size, NORMAL: size, LOW: size}, workers)


async def _blocked(s: Scheduler) -> asyncio.Event:
    """Occupies the only worker until the returned event is set."""
    release = asyncio.Event()
    s.submit("blocker", release.wait, s.reserve(NORMAL))
    await asyncio.sleep(0.01)
    assert "blocker" in s.running
    return release


async def test_high_priority_work_runs_first_then_normal_then_low():
    s = scheduler()
    s.start()
    release = await _blocked(s)
    ran = []

    def job(name):
        async def run():
            ran.append(name)

        return run

    for name, priority in (("low", LOW), ("normal", NORMAL), ("high", HIGH), ("low2", LOW)):
        s.submit(name, job(name), s.reserve(priority))
    release.set()
    await asyncio.sleep(0.05)
    assert ran == ["high", "normal", "low", "low2"]
    await s.stop(1)


async def test_a_full_queue_refuses_with_a_retry_delay_and_a_released_place_is_free_again():
    s = scheduler(size=2)
    first = s.reserve(NORMAL)
    s.reserve(NORMAL)
    with pytest.raises(Overloaded) as caught:
        s.reserve(NORMAL)
    assert caught.value.retry_after >= 1
    s.reserve(HIGH)  # another priority has its own queue
    s.release(first)
    s.release(first)  # twice is harmless
    s.reserve(NORMAL)


async def test_forced_work_enters_a_full_queue():
    s = scheduler(size=0)
    with pytest.raises(Overloaded):
        s.reserve(LOW)
    s.submit("resumed", asyncio.sleep, priority=LOW)
    assert s.queued(LOW) == 1


async def test_a_queued_job_can_be_removed_before_it_runs():
    s = scheduler()
    s.start()
    release = await _blocked(s)
    ran = []

    async def job():
        ran.append("job")

    s.submit("job", job, s.reserve(LOW))
    assert s.remove("job") and not s.remove("job")
    release.set()
    await asyncio.sleep(0.05)
    assert ran == []
    await s.stop(1)


async def test_cancelling_a_running_job_leaves_its_worker_working():
    s = scheduler()
    s.start()
    await _blocked(s)
    s.running["blocker"].cancel()
    done = asyncio.Event()

    async def job():
        done.set()

    s.submit("next", job, s.reserve(NORMAL))
    await asyncio.wait_for(done.wait(), 1)
    await s.stop(1)


async def test_stop_gives_running_jobs_the_grace_period_then_cancels_them():
    s = scheduler(workers=2)
    s.start()
    outcomes = []

    async def quick():
        await asyncio.sleep(0.05)
        outcomes.append("quick finished")

    async def slow():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            outcomes.append("slow cancelled")
            raise

    s.submit("quick", quick, s.reserve(NORMAL))
    s.submit("slow", slow, s.reserve(NORMAL))
    await asyncio.sleep(0.01)
    told = []
    await s.stop(0.2, before_cancel=lambda: told.append(True))
    assert outcomes == ["quick finished", "slow cancelled"]
    assert told == [True]
    assert s.closed
    with pytest.raises(Unavailable) as caught:  # a call that was on its way in meanwhile
        s.reserve(NORMAL)
    assert caught.value.retry_safe  # nothing of it was stored: another replica may take it


async def test_the_bytes_waiting_are_bounded_as_well_as_their_count():
    s = Scheduler({HIGH: 10, NORMAL: 10, LOW: 10}, workers=1, max_bytes=1000)
    s.start()
    release = await _blocked(s)
    big = s.reserve(NORMAL, 600)  # one request may be as large as the whole bound...
    s.submit("big", release.wait, big)
    with pytest.raises(Overloaded) as caught:
        s.reserve(HIGH, 600)  # ...but what waits never passes it
    assert "MiB of requests" in str(caught.value)
    small = s.reserve(HIGH, 300)
    s.release(small)
    assert s.queued_bytes == 600
    release.set()
    await asyncio.sleep(0.05)
    assert s.queued_bytes == 0  # running work is no longer waiting
    s.reserve(HIGH, 900)
    await s.stop(1)


async def test_a_job_that_waited_elsewhere_counts_that_wait():
    s = scheduler()
    s.start()
    done = asyncio.Event()

    async def job():
        done.set()

    s.submit("taken", job, priority=NORMAL, waited=2.5)
    await asyncio.wait_for(done.wait(), 1)
    assert 2.5 <= s.waits[NORMAL][-1] < 3.0
    await s.stop(0)


async def test_at_most_workers_jobs_run_at_once_and_each_end_starts_the_next():
    s = scheduler(workers=2)
    running, most, ran = set(), 0, []
    gates = {name: asyncio.Event() for name in "abcde"}

    def job(name):
        async def run():
            nonlocal most
            running.add(name)
            most = max(most, len(running))
            await gates[name].wait()
            running.discard(name)
            ran.append(name)

        return run

    for name in gates:
        s.submit(name, job(name), s.reserve(NORMAL))
    await asyncio.sleep(0.01)
    assert running == set()  # nothing runs before the scheduler starts
    s.start()
    await asyncio.sleep(0.01)
    assert running == {"a", "b"}
    for name in gates:
        gates[name].set()
        await asyncio.sleep(0.01)
    assert ran == list("abcde")
    assert most == 2
    assert s.running == {} and s.room() == 2
    assert s.mean_run_seconds > 0
    await s.stop(1)
