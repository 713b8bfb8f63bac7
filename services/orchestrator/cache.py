"""ResultCache: results of finished workflows by request key, in two levels.

L1 is in process (cachetools TLRU: a TTL per entry, least recently used out first); L2 is
Redis when a URL is configured, shared by every replica. An L2 hit is copied into L1.
Redis trouble never fails a request: the level is skipped for a few seconds (a breaker)
and the stats say why.

Single-flight: the first request for a key leads (`lead`), identical requests meanwhile
wait for its result (`flight`) instead of computing it again. Across replicas (with
Redis) the leader also holds a marker in Redis (`look_or_claim`, in the same round trip as
the L2 lookup; `holding` keeps it alive while it computes, then leaves the result for a
few seconds beside it and drops it): an identical request on another replica finds the
marker and waits for that result (`await_flight`) instead of computing it. (The result
is left apart from the cache, since the cache stores it under the models its replies
named, which the waiters' key may not know yet.) A leader that dies leaves a
marker that lapses within seconds, and its waiters then compute it themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from cachetools import TLRUCache

from services.common.errors import InvalidInput
from services.orchestrator.breaker import CircuitBreaker, State

log = logging.getLogger("aiorch.cache")

MAX_PATTERN_CHARS = 256
REDIS_TIMEOUT = 0.25  # seconds; a cache slower than this is not worth waiting for
REDIS_RETRY_SECONDS = 5.0
FLIGHT_SECONDS = 3.0  # a leader's marker lapses this long after its last renewal
FLIGHT_POLL_SECONDS = 0.05  # how often a waiter on another replica's flight looks
FLIGHT_RESULT_SECONDS = 10.0  # how long a flight's result waits for its waiters
# Drops or renews a marker only while it is the caller's (a lapsed one may be another's).
_DROP = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then"
    " return redis.call('pexpire', KEYS[1], ARGV[2]) end"
)


@dataclass(frozen=True)
class LevelStats:
    level: str
    available: bool
    entries: int
    hits: int
    misses: int
    note: str = ""


@dataclass
class Flight:
    """A computation this replica leads across replicas: its result, once it has one,
    and the cache entry to write to Redis with it (one round trip for both)."""

    value: bytes | None = None
    held: bool = False  # a marker in Redis is held (see `holding`)
    entry: tuple[str, bytes, float] | None = None  # (key, value, ttl) for L2


def _expiry(_key, entry, now):
    return now + entry[1]


class ResultCache:
    def __init__(self, l1_size: int, redis=None, prefix: str = "", clock=time.monotonic):
        # Entries are (value, ttl): each expires after its own type's TTL.
        self.l1 = TLRUCache(l1_size, _expiry, timer=clock) if l1_size else None
        self.redis = redis
        self.prefix = prefix
        self.redis_breaker = CircuitBreaker(1, REDIS_RETRY_SECONDS, clock)
        self.redis_note = ""
        self.counts = dict.fromkeys(("l1_hits", "l1_misses", "l2_hits", "l2_misses", "shared"), 0)
        self._flights: dict[str, asyncio.Future] = {}

    @classmethod
    def open(cls, l1_size: int, redis_url: str = "", prefix: str = "") -> ResultCache:
        client = None
        if redis_url:
            import redis.asyncio  # only needed when configured

            client = redis.asyncio.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
        return cls(l1_size, client, prefix)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def get(self, key: str, *, count: bool = True) -> bytes | None:
        """The cached value of `key`; `count` False leaves the hit/miss figures alone (a
        second look by a request already counted)."""
        counts = self.counts if count else Counter()
        if self.l1 is not None:
            found = self.l1.get(key)
            if found is not None:
                counts["l1_hits"] += 1
                return found[0]
        counts["l1_misses"] += 1
        if not self._l2_allowed():
            return None
        async with self._l2():
            async with self.redis.pipeline(transaction=False) as pipe:
                value, ttl_ms = await pipe.get(self.prefix + key).pttl(self.prefix + key).execute()
            if value is None:
                counts["l2_misses"] += 1
                return None
            counts["l2_hits"] += 1
            if self.l1 is not None and ttl_ms > 0:
                self.l1[key] = (value, ttl_ms / 1000)
            return value
        return None

    async def put(self, key: str, value: bytes, ttl: float, flight: Flight | None = None) -> None:
        """Caches `value`; within a `flight` that holds a marker, the L2 write waits to
        go out with the flight's end."""
        if ttl <= 0:
            return
        if self.l1 is not None:
            self.l1[key] = (value, ttl)
        if flight is not None and flight.held:
            flight.entry = (key, value, ttl)
            return
        if self._l2_allowed():
            async with self._l2():
                await self.redis.set(self.prefix + key, value, px=max(1, round(ttl * 1000)))

    def flight(self, key: str) -> asyncio.Future | None:
        """The result-to-be of a request computing `key` now, if there is one."""
        future = self._flights.get(key)
        if future is not None:
            self.counts["shared"] += 1
        return future

    @contextlib.contextmanager
    def lead(self, key: str) -> Iterator[asyncio.Future]:
        """Marks `key` as being computed; set the future's result to share it. Leaving
        without a result tells the waiters to compute it themselves (None)."""
        future = asyncio.get_running_loop().create_future()
        self._flights[key] = future
        try:
            yield future
        finally:
            if self._flights.get(key) is future:
                del self._flights[key]
            if not future.done():
                future.set_result(None)

    async def look_or_claim(self, key: str) -> tuple[bytes | None, str | None]:
        """(value, marker): the cached value of `key`, or None and, when no replica
        computes it now, the marker this caller now holds (see `holding`). Without Redis
        (or with it away) the caller computes alone: (None, '')."""
        if self.l1 is not None and (found := self.l1.get(key)) is not None:
            return found[0], None
        if not self._l2_allowed():
            return None, ""
        token = uuid.uuid4().hex
        async with self._l2():
            async with self.redis.pipeline(transaction=False) as pipe:
                value, ttl_ms, claimed = await (
                    pipe.get(self.prefix + key)
                    .pttl(self.prefix + key)
                    .set(self._marker(key), token, nx=True, px=round(FLIGHT_SECONDS * 1000))
                    .execute()
                )
            if value is not None:
                if self.l1 is not None and ttl_ms > 0:
                    self.l1[key] = (value, ttl_ms / 1000)
                if claimed:  # stored just now, by a leader that is done
                    await self.redis.eval(_DROP, 1, self._marker(key), token)
                return value, None
            return None, token if claimed else None
        return None, ""

    async def await_flight(self, key: str, limit: float) -> bytes | None:
        """Waits for the replica computing `key`: its value, or None when it stopped
        without one (or Redis went away). TimeoutError after `limit` seconds."""
        self.counts["shared"] += 1
        async with asyncio.timeout(limit):
            while self._l2_allowed():
                async with self._l2():
                    async with self.redis.pipeline(transaction=False) as pipe:
                        value, computing = await (
                            pipe.get(self._result(key)).exists(self._marker(key)).execute()
                        )
                    if value is not None or not computing:
                        return value
                await asyncio.sleep(FLIGHT_POLL_SECONDS)
        return None

    @contextlib.asynccontextmanager
    async def holding(self, key: str, marker: str) -> AsyncIterator[Flight]:
        """Keeps the marker of `key` alive while the block computes it; after, leaves the
        result the block set on the yielded Flight (if any) for the waiters and drops
        the marker. (A marker '' is none: Redis was away when the computation began.)"""
        flight = Flight()
        if not marker or self.redis is None:
            yield flight
            return
        flight.held = True
        renew = asyncio.create_task(self._renew(key, marker))
        try:
            yield flight
        finally:
            renew.cancel()
            if self._l2_allowed():
                async with self._l2():
                    await asyncio.shield(self._land(key, marker, flight))

    async def _land(self, key: str, marker: str, flight: Flight) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            if flight.entry is not None:
                cached, value, ttl = flight.entry
                pipe.set(self.prefix + cached, value, px=max(1, round(ttl * 1000)))
            if flight.value is not None:
                result = flight.value
                pipe.set(self._result(key), result, px=round(FLIGHT_RESULT_SECONDS * 1000))
            pipe.eval(_DROP, 1, self._marker(key), marker)
            await pipe.execute()

    async def _renew(self, key: str, marker: str) -> None:
        while True:
            await asyncio.sleep(FLIGHT_SECONDS / 3)
            if self._l2_allowed():
                async with self._l2():
                    ms = round(FLIGHT_SECONDS * 1000)
                    await self.redis.eval(_RENEW, 1, self._marker(key), marker, ms)

    def _marker(self, key: str) -> str:
        return f"{self.prefix}flight:{key}"

    def _result(self, key: str) -> str:
        return f"{self.prefix}flight-result:{key}"

    async def invalidate(self, pattern: str) -> int:
        """Removes the entries whose key matches the glob `pattern`; returns how many."""
        if not pattern or len(pattern) > MAX_PATTERN_CHARS:
            raise InvalidInput("pattern", f"must be a glob of 1 to {MAX_PATTERN_CHARS} characters")
        removed = 0
        if self.l1 is not None:
            for key in [k for k in list(self.l1.keys()) if fnmatch.fnmatchcase(k, pattern)]:
                self.l1.pop(key, None)
                removed += 1
        if self._l2_allowed():
            async with self._l2():
                batch = []
                async for key in self.redis.scan_iter(match=self.prefix + pattern, count=500):
                    batch.append(key)
                    if len(batch) == 500:
                        removed += await self.redis.unlink(*batch)
                        batch = []
                if batch:
                    removed += await self.redis.unlink(*batch)
        return removed

    def stats(self) -> tuple[list[LevelStats], float]:
        """Each level's figures, and hits over lookups for both levels together."""
        c = self.counts
        levels = [
            LevelStats(
                "l1",
                self.l1 is not None,
                len(self.l1) if self.l1 is not None else 0,
                c["l1_hits"],
                c["l1_misses"],
                "" if self.l1 is not None else "disabled (cache_l1_size is 0)",
            )
        ]
        if self.redis is not None:
            available = self.redis_breaker.state is State.CLOSED
            levels.append(
                LevelStats("l2", available, 0, c["l2_hits"], c["l2_misses"], self.redis_note)
            )
        lookups = c["l1_hits"] + c["l1_misses"]
        return levels, (c["l1_hits"] + c["l2_hits"]) / lookups if lookups else 0.0

    async def ping(self) -> str:
        """'' when Redis answers (or none is configured), else why not."""
        if self.redis is None:
            return ""
        async with self._l2():
            await self.redis.ping()
            return ""
        return self.redis_note

    def _l2_allowed(self) -> bool:
        return self.redis is not None and self.redis_breaker.allow()

    @contextlib.asynccontextmanager
    async def _l2(self):
        """Runs a Redis operation; a failure is noted and swallowed (L1 carries on)."""
        try:
            yield
        except Exception as error:  # redis.RedisError, OSError, TimeoutError
            self.redis_breaker.failed()
            self.redis_note = f"redis unavailable, L1 only: {type(error).__name__}: {error}"
            log.warning("cache level 2 failed", extra={"error": str(error)})
        else:
            self.redis_breaker.succeeded()
            self.redis_note = ""
