"""Fixtures of the orchestrator's unit tests."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

REDIS_URL = os.environ.get("AIORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url():
    """The test Redis. CI runs Redis, so there a missing server fails the run; on a laptop
    without one these tests skip."""
    import redis.asyncio

    async def ping():
        client = redis.asyncio.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except (OSError, redis.RedisError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture
async def redis_prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis.asyncio

    prefix = f"aiorch-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.asyncio.from_url(redis_url)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
