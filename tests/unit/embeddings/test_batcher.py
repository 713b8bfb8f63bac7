import asyncio
import threading

import numpy as np
import pytest

from services.common.errors import DeadlineExceeded, Overloaded
from services.embeddings.batcher import MicroBatcher
from services.embeddings.model import Encoded


class CountingEncoder:
    """Encodes a text as [len(text)] and records the batches it was given."""

    def __init__(self, delay=0.0):
        self.batches = []
        self.delay = delay
        self.release = threading.Event()

    def __call__(self, texts):
        self.batches.append(list(texts))
        if self.delay:
            self.release.wait(self.delay)
        return Encoded(
            vectors=np.array([[len(t)] for t in texts], dtype=np.float32),
            tokens=[len(t) for t in texts],
            truncated=[False] * len(texts),
        )


async def test_concurrent_requests_share_one_batch_and_each_gets_its_own_rows():
    encoder = CountingEncoder()
    batcher = MicroBatcher(encoder, max_batch_size=32, max_wait=0.05)
    results = await asyncio.gather(
        batcher.encode_async(["a"]),
        batcher.encode_async(["bb", "ccc"]),
        batcher.encode_async(["dddd"]),
    )
    assert encoder.batches == [["a", "bb", "ccc", "dddd"]]
    assert [r.tokens for r in results] == [[1], [2, 3], [4]]
    assert results[1].vectors.tolist() == [[2.0], [3.0]]
    await batcher.close()


async def test_a_full_batch_closes_without_waiting_out_the_window():
    encoder = CountingEncoder()
    batcher = MicroBatcher(encoder, max_batch_size=2, max_wait=10)
    await asyncio.wait_for(
        asyncio.gather(batcher.encode_async(["a"]), batcher.encode_async(["b"])), timeout=2
    )
    assert encoder.batches == [["a", "b"]]
    await batcher.close()


async def test_a_full_queue_refuses_with_a_retry_delay():
    encoder = CountingEncoder(delay=5)
    batcher = MicroBatcher(encoder, max_batch_size=1, max_wait=0, max_queued=3)
    first = asyncio.create_task(batcher.encode_async(["a", "b"]))
    await asyncio.sleep(0.05)
    with pytest.raises(Overloaded) as caught:
        await batcher.encode_async(["c", "d"])
    assert caught.value.retry_after > 0
    encoder.release.set()
    assert (await first).tokens == [1, 1]
    await batcher.close()


async def test_an_encoder_error_reaches_every_caller_of_the_batch_and_the_next_batch_runs():
    calls = []

    def flaky(texts):
        calls.append(texts)
        if len(calls) == 1:
            raise RuntimeError("model failed")
        return CountingEncoder()(texts)

    batcher = MicroBatcher(flaky, max_wait=0.02)
    results = await asyncio.gather(
        batcher.encode_async(["a"]), batcher.encode_async(["b"]), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert (await batcher.encode_async(["ccc"])).tokens == [3]
    await batcher.close()


async def test_work_whose_deadline_passed_in_the_queue_is_not_encoded():
    encoder = CountingEncoder()
    batcher = MicroBatcher(encoder, max_batch_size=32, max_wait=0.05)
    late, on_time = await asyncio.gather(
        batcher.encode_async(["late"], timeout=0.01),
        batcher.encode_async(["on time"], timeout=5),
        return_exceptions=True,
    )
    assert isinstance(late, DeadlineExceeded)
    assert on_time.tokens == [7]
    assert encoder.batches == [["on time"]]
    assert batcher.queued_texts == 0
    await batcher.close()
