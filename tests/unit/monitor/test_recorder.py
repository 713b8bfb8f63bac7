import asyncio

import pytest

from services.common.errors import Overloaded
from services.monitor.alerts import AlertBook, Threshold
from services.monitor.history import History
from services.monitor.recorder import WATCH_BUFFER, MetricsRecorder
from services.monitor.sampler import Sampler

INTERVAL = 0.02


@pytest.fixture
async def recorder():
    recorder = MetricsRecorder(
        Sampler(),
        History(retention_seconds=60, interval_seconds=INTERVAL),
        # cpu.percent is always at least 0: this alert fires at the first sample.
        AlertBook([Threshold("cpu.percent", 0, 1000)], hold_seconds=0),
        INTERVAL,
        max_watchers=2,
    )
    await recorder.start()
    yield recorder
    await recorder.stop()


async def test_a_started_recorder_already_has_a_sample_in_history_and_alerts(recorder):
    assert "cpu.percent" in recorder.latest.metrics
    assert recorder.history.summary("cpu.percent", 0).samples >= 1
    assert [a.metric for a in recorder.alerts.active] == ["cpu.percent"]


def samples(recorder) -> int:
    return recorder.history.summary("cpu.percent", 0).samples


async def wait_for_samples(recorder, count: int) -> None:
    with recorder.watch() as queue:
        for _ in range(count):
            await asyncio.wait_for(queue.get(), 5)


async def test_samples_keep_coming_never_faster_than_the_interval(recorder):
    loop = asyncio.get_running_loop()
    before, started = samples(recorder), loop.time()
    await asyncio.sleep(INTERVAL * 10)
    elapsed = loop.time() - started
    # Missed ticks (a busy host) are skipped, never made up in a burst.
    assert 1 <= samples(recorder) - before <= elapsed / INTERVAL + 1


async def test_a_watcher_gets_every_new_sample_in_order(recorder):
    with recorder.watch() as queue:
        samples = [await asyncio.wait_for(queue.get(), 1) for _ in range(3)]
    times = [s.time for s in samples]
    assert times == sorted(times) and len(set(times)) == 3


async def test_a_slow_watcher_keeps_only_the_newest_samples(recorder):
    with recorder.watch() as queue:
        await wait_for_samples(recorder, WATCH_BUFFER + 3)
        assert queue.qsize() == WATCH_BUFFER
        kept = [queue.get_nowait() for _ in range(WATCH_BUFFER)]
    assert kept[-1] is recorder.latest


async def test_watchers_beyond_the_limit_are_refused_with_a_retry_delay(recorder):
    with recorder.watch(), recorder.watch():
        with pytest.raises(Overloaded) as caught, recorder.watch():
            pass
        assert caught.value.retry_after > 0
    with recorder.watch():  # the places are free again
        pass
