"""Fixtures shared by every test level."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import threading
import uuid

import pytest

from services.embeddings.model import SentenceEncoder
from tools.settings import SuiteSettings


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> SuiteSettings:
    """Defaults, with a store of the test session's own, and no monitor to report
    activity to unless a test starts one (never a suite running on this host)."""
    db = tmp_path_factory.mktemp("store") / "aiorch.db"
    return SuiteSettings(database_url=f"sqlite:///{db}", monitor_addr="127.0.0.1:1")


@pytest.fixture(scope="session")
def encoder(settings) -> SentenceEncoder:
    """The real local model, loaded once."""
    return SentenceEncoder(
        settings.embeddings_tokenizer_path, max_tokens=settings.embeddings_max_tokens
    )


POSTGRES_URL = os.environ.get(
    "AIORCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url():
    """A schema of the test's own in the test PostgreSQL, dropped afterwards: no test sees
    another's rows (an orchestrator claims every lapsed workflow it finds).

    CI runs PostgreSQL, so there a missing server fails the run; on a laptop without
    one these tests skip."""
    import asyncpg

    schema = f"test_{uuid.uuid4().hex[:12]}"

    async def run(sql):
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f"CREATE SCHEMA {schema}"))
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {error}")
    yield f"{POSTGRES_URL}?search_path={schema}"
    asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/aiorch.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def redis_prefix():
    """Settings of a Redis key prefix of this test's own; its keys go afterwards."""
    import redis.asyncio

    url = os.environ.get("AIORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"aiorch-test-{uuid.uuid4().hex[:12]}:"
    client = redis.asyncio.from_url(url)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        await client.aclose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Redis at {url}: {error}")
    yield {"redis_url": url, "cache_key_prefix": prefix}
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# A test that hangs is stopped by pytest-timeout (see pyproject.toml) with every thread's
# stack; but in an asyncio test the thread only shows the loop waiting. What the loop's
# tasks wait on is written first, a little before that.
TASKS_AFTER_SECONDS = 200.0


@pytest.fixture(autouse=True)
def _tasks_written_when_stuck(request):
    done = threading.Event()

    def write_tasks() -> None:
        out = io.StringIO(f"\n== tasks of {request.node.nodeid}, still running\n")
        out.seek(0, io.SEEK_END)
        for task in asyncio.all_tasks():
            try:
                task.print_stack(limit=12, file=out)
            except Exception as error:  # one task's stack must not hide the others'
                out.write(f"{task!r}: no stack ({error!r})\n")
        os.write(2, out.getvalue().encode())  # unbuffered: pytest's capture shows it

    def watch() -> None:
        if done.wait(TASKS_AFTER_SECONDS):
            return
        for thing in gc.get_objects():  # the loop pytest-asyncio runs, whichever it is
            if isinstance(thing, asyncio.AbstractEventLoop) and thing.is_running():
                thing.call_soon_threadsafe(write_tasks)

    threading.Thread(target=watch, daemon=True).start()
    yield
    done.set()
