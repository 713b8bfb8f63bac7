import asyncio

import pytest

from services.common.errors import InvalidInput
from services.orchestrator.cache import ResultCache


async def test_an_entry_lives_for_its_ttl(clock):
    cache = ResultCache(10, clock=clock)
    await cache.put("classification:a", b"result", ttl=60)
    await cache.put("embedding:b", b"vector", ttl=3600)
    assert await cache.get("classification:a") == b"result"
    clock.advance(61)
    assert await cache.get("classification:a") is None
    assert await cache.get("embedding:b") == b"vector"
    levels, hit_rate = cache.stats()
    assert (levels[0].hits, levels[0].misses, levels[0].entries) == (2, 1, 1)
    assert hit_rate == pytest.approx(2 / 3)


async def test_the_least_recently_used_entry_leaves_first_and_ttl_zero_caches_nothing():
    cache = ResultCache(2)
    await cache.put("a", b"1", 60)
    await cache.put("b", b"2", 60)
    await cache.get("a")
    await cache.put("c", b"3", 60)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    await cache.put("d", b"4", ttl=0)
    assert await cache.get("d") is None


async def test_invalidation_removes_the_keys_matching_a_glob():
    cache = ResultCache(10)
    for key in ("classification:1", "classification:2", "hybrid:1"):
        await cache.put(key, b"x", 60)
    assert await cache.invalidate("classification:*") == 2
    assert await cache.get("hybrid:1") == b"x"
    with pytest.raises(InvalidInput):
        await cache.invalidate("")


async def test_identical_requests_in_flight_share_the_first_ones_result():
    cache = ResultCache(10)
    assert cache.flight("k") is None
    with cache.lead("k") as shared:
        waiters = [asyncio.ensure_future(cache.flight("k")) for _ in range(3)]
        shared.set_result(b"computed once")
    assert await asyncio.gather(*waiters) == [b"computed once"] * 3
    assert cache.flight("k") is None
    assert cache.counts["shared"] == 3


async def test_a_leader_that_gives_no_result_tells_the_waiters_to_compute():
    cache = ResultCache(10)
    with pytest.raises(RuntimeError), cache.lead("k"):
        waiter = cache.flight("k")
        raise RuntimeError("the computation failed")
    assert await waiter is None


async def test_redis_shares_results_between_processes_and_hits_are_promoted_to_l1(
    redis_url, redis_prefix
):
    first = ResultCache.open(10, redis_url, redis_prefix)
    second = ResultCache.open(10, redis_url, redis_prefix)
    await first.put("classification:abc", b"result", ttl=60)
    assert await second.get("classification:abc") == b"result"
    assert await second.get("classification:abc") == b"result"
    levels, _ = second.stats()
    assert [(level.level, level.hits, level.available) for level in levels] == [
        ("l1", 1, True),
        ("l2", 1, True),
    ]
    assert await second.ping() == ""
    await first.close()
    await second.close()


async def test_invalidation_reaches_redis(redis_url, redis_prefix):
    cache = ResultCache.open(10, redis_url, redis_prefix)
    for key in ("hybrid:1", "hybrid:2", "embedding:1"):
        await cache.put(key, b"x", ttl=60)
    # Both levels held each matching entry.
    assert await cache.invalidate("hybrid:*") == 4
    other = ResultCache.open(10, redis_url, redis_prefix)
    assert await other.get("hybrid:1") is None
    assert await other.get("embedding:1") == b"x"
    await cache.close()
    await other.close()


async def test_a_redis_that_is_down_leaves_l1_working_with_a_note():
    cache = ResultCache.open(10, "redis://127.0.0.1:1/0", "p:")
    await cache.put("k", b"v", ttl=60)
    assert await cache.get("k") == b"v"
    assert await cache.get("missing") is None
    levels, _ = cache.stats()
    assert not levels[1].available
    assert "redis unavailable" in levels[1].note
    assert await cache.ping() != ""
    await cache.close()
