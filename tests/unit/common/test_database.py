import asyncio

import asyncpg
import pytest

from services.common.database import Database, _errors
from services.common.errors import Unavailable

MIGRATIONS = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    "ALTER TABLE notes ADD COLUMN author TEXT",
)


async def test_migrations_apply_once_in_order_and_survive_a_reopen(database_url):
    db = await Database.open(database_url)
    await db.migrate("notes", MIGRATIONS[:1])
    await db.execute("INSERT INTO notes (id, body) VALUES ($1, $2)", 1, "first")
    await db.close()
    db = await Database.open(database_url)
    await db.migrate("notes", MIGRATIONS)
    await db.migrate("notes", MIGRATIONS)
    await db.execute("INSERT INTO notes (id, body, author) VALUES ($1, $2, $3)", 2, "b", "ann")
    assert await db.fetchall("SELECT id, author FROM notes ORDER BY id") == [(1, None), (2, "ann")]
    assert await db.fetchone(
        "SELECT MAX(version) FROM schema_migrations WHERE component = $1", "notes"
    ) == (2,)
    await db.close()


async def test_concurrent_starts_apply_each_migration_once(database_url):
    databases = [await Database.open(database_url) for _ in range(3)]
    await asyncio.gather(*(db.migrate("notes", MIGRATIONS) for db in databases))
    rows = await databases[0].fetchall(
        "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version", "notes"
    )
    assert rows == [(1,), (2,)]
    for db in databases:
        await db.close()


async def test_a_failed_transaction_leaves_nothing_behind(database_url):
    db = await Database.open(database_url)
    await db.migrate("notes", MIGRATIONS)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (id, body) VALUES ($1, $2)", 7, "half")
            raise RuntimeError("crash between two writes")
    assert await db.fetchone("SELECT body FROM notes WHERE id = $1", 7) is None
    await db.close()


async def test_a_transaction_cancelled_while_it_waits_to_begin_leaves_the_file_unlocked(
    tmp_path,
):
    """SQLite's thread runs a queued BEGIN even when its caller was cancelled meanwhile
    (a request that timed out while another process held the write lock): the
    transaction it opens must still end, or the connection keeps the file's write lock
    from every process, and its own next transaction cannot begin."""
    url = f"sqlite:///{tmp_path}/aiorch.db"
    holder, waiter = await Database.open(url), await Database.open(url)
    release, held = asyncio.Event(), asyncio.Event()

    async def hold_the_write_lock():
        async with holder.transaction() as tx:
            await tx.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
            held.set()
            await release.wait()

    holding = asyncio.create_task(hold_the_write_lock())
    await held.wait()

    async def write():
        async with waiter.transaction() as tx:
            await tx.execute("INSERT INTO notes (id) VALUES (1)")

    cancelled = asyncio.create_task(write())
    await asyncio.sleep(0.2)  # its BEGIN IMMEDIATE waits in SQLite's thread for the lock
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    release.set()
    await holding  # the lock is free: the cancelled BEGIN takes it in the thread
    await asyncio.sleep(0.2)
    async with waiter.transaction() as tx:  # its own next transaction begins
        await tx.execute("INSERT INTO notes (id) VALUES (2)")
    async with asyncio.timeout(5):  # and another connection can write again
        await holder.execute("INSERT INTO notes (id) VALUES (3)")
    assert await holder.fetchall("SELECT id FROM notes ORDER BY id") == [(2,), (3,)]
    await holder.close()
    await waiter.close()


async def test_an_unsupported_url_is_refused_with_the_scheme_named():
    with pytest.raises(ValueError, match="mysql"):
        await Database.open("mysql://localhost/db")


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.InternalClientError("cannot switch to state 12"),
    ],
)
def test_a_database_restarting_is_unavailable_never_an_internal_error(error):
    # What asyncpg raised in the PostgreSQL restart drill: each must reach the caller as
    # UNAVAILABLE (503, retry), never as an unexpected error (500).
    with pytest.raises(Unavailable, match="unavailable"), _errors():
        raise error


def test_a_bug_in_the_caller_is_not_disguised_as_unavailable():
    with pytest.raises(KeyError), _errors():
        raise KeyError("a bug")


async def test_close_cuts_a_connection_still_in_use_rather_than_wait_for_it(postgres_url):
    db = await Database.open(postgres_url)
    holding = asyncio.Event()

    async def hold():
        async with db.transaction():
            holding.set()
            await asyncio.Event().wait()  # a caller that never gives its connection back

    holder = asyncio.create_task(hold())
    await holding.wait()
    await asyncio.wait_for(db.close(timeout=0.2), 5)  # asyncpg alone would wait forever
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)
    assert db._pool.is_closing()
