"""Single-flight across replicas: caches of two processes on one Redis; the second finds
the first computing a key and waits for its value, or computes it itself when the first
stops without one or dies."""

from __future__ import annotations

import asyncio

import pytest

from services.orchestrator import cache as cache_module
from services.orchestrator.cache import ResultCache


@pytest.fixture
async def replicas(redis_url, redis_prefix):
    caches = [ResultCache.open(16, redis_url, redis_prefix) for _ in range(2)]
    yield caches
    for cache in caches:
        await cache.close()


async def test_a_replica_waits_for_the_one_computing_the_same_key(replicas):
    first, second = replicas
    value, marker = await first.look_or_claim("k")
    assert value is None and marker  # it leads
    assert await second.look_or_claim("k") == (None, None)  # someone computes it
    waiting = asyncio.ensure_future(second.await_flight("k", 5))
    async with first.holding("k", marker) as flight:
        await asyncio.sleep(0.2)
        await first.put("known", b"result", 60, flight)  # under the models replies named
        flight.value = b"result"
        assert await second.get("known") is None  # goes out with the flight's end
    assert await waiting == b"result"
    assert await second.get("known") == b"result"
    # Left for the waiters, not cached (the cache holds results under the models their
    # replies named): the next request after the flight leads a new one.
    value, marker = await second.look_or_claim("k")
    assert value is None and marker


async def test_a_leader_that_fails_lets_the_waiters_compute(replicas):
    first, second = replicas
    _, marker = await first.look_or_claim("k")
    waiting = asyncio.ensure_future(second.await_flight("k", 5))
    with pytest.raises(RuntimeError):
        async with first.holding("k", marker):
            raise RuntimeError("the steps failed")
    assert await waiting is None
    _, marker = await second.look_or_claim("k")
    assert marker  # now it leads


async def test_a_dead_leaders_marker_lapses(replicas, monkeypatch):
    monkeypatch.setattr(cache_module, "FLIGHT_SECONDS", 0.3)
    first, second = replicas
    _, marker = await first.look_or_claim("k")  # then it dies: no renewal, no drop
    assert marker
    assert await second.await_flight("k", 5) is None


async def test_a_long_computation_keeps_its_marker(replicas, monkeypatch):
    monkeypatch.setattr(cache_module, "FLIGHT_SECONDS", 0.3)
    first, second = replicas
    _, marker = await first.look_or_claim("k")
    async with first.holding("k", marker):
        await asyncio.sleep(1.0)  # past the marker's life, renewed meanwhile
        assert await second.look_or_claim("k") == (None, None)


async def test_a_waiter_gives_up_at_its_deadline(replicas):
    first, second = replicas
    _, marker = await first.look_or_claim("k")
    async with first.holding("k", marker):
        with pytest.raises(TimeoutError):
            await second.await_flight("k", 0.2)
