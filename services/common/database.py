"""One small async database API over SQLite (aiosqlite, the default) and PostgreSQL (asyncpg).

SQL is written once, in PostgreSQL's dialect with `$1` placeholders; for SQLite the
placeholders become `?` (so each `$n` must appear once and in order). Every service that
keeps state migrates its own numbered statements under its own name.

    db = await Database.open("sqlite:///var/aiorch.db")   # or postgresql://user@host/db
    await db.migrate("workflows", MIGRATIONS)
    row = await db.fetchone("SELECT record FROM workflows WHERE workflow_id = $1", wid)

PostgreSQL's notifications (NOTIFY) reach a `Listener`, on a connection of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import sys
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import aiosqlite

from services.common.errors import InvalidInput, Unavailable

log = logging.getLogger("aiorch.database")

_PLACEHOLDER = re.compile(r"\$\d+")
_MIGRATIONS_LOCK = zlib.crc32(b"aiorch schema_migrations")


@dataclass(frozen=True)
class Transaction:
    execute: Callable[..., Awaitable]
    fetchval: Callable[..., Awaitable]


class Database:
    def __init__(self, dialect: str, *, sqlite=None, pool=None, url: str = ""):
        self.dialect = dialect
        self.url = url
        self._sqlite: aiosqlite.Connection | None = sqlite
        self._pool = pool
        # One SQLite connection serves every caller; a transaction must not interleave
        # with another caller's statements.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> Database:
        scheme = urlparse(url).scheme
        if scheme == "sqlite":
            return cls("sqlite", sqlite=await _open_sqlite(urlparse(url).path))
        if scheme in ("postgresql", "postgres"):
            import asyncpg  # only needed when configured

            # Extra URL query parameters (e.g. ?search_path=x) become server settings. A
            # statement that hangs (a server gone without a word) fails after
            # command_timeout instead of holding its caller forever.
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=10,
                timeout=5,
                command_timeout=10,
                reset=_keep_session,
            )
            return cls("postgresql", pool=pool, url=url)
        raise ValueError(
            f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://"
        )

    @property
    def _connection(self) -> aiosqlite.Connection:
        """The SQLite connection (only a SQLite database has one)."""
        assert self._sqlite is not None
        return self._sqlite

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("?", sql) if self.dialect == "sqlite" else sql

    async def execute(self, sql: str, *args) -> None:
        with _errors():
            if self._pool is not None:
                await self._pool.execute(sql, *args)
                return
            async with self._lock:
                await self._connection.execute(self._sql(sql), args)

    async def fetchall(self, sql: str, *args) -> list[tuple]:
        with _errors():
            if self._pool is not None:
                return [tuple(row) for row in await self._pool.fetch(sql, *args)]
            async with self._lock, self._connection.execute(self._sql(sql), args) as cursor:
                return [tuple(row) for row in await cursor.fetchall()]

    async def fetchone(self, sql: str, *args) -> tuple | None:
        rows = await self.fetchall(sql, *args)
        return rows[0] if rows else None

    @contextlib.asynccontextmanager
    async def transaction(self):
        """Yields a `Transaction`: its statements commit together or not at all."""
        if self._pool is not None:
            with _errors():
                async with self._pool.acquire() as conn, conn.transaction():
                    yield Transaction(conn.execute, conn.fetchval)
            return
        async with self._lock:
            # IMMEDIATE takes the write lock at once, so two processes migrating the same
            # file queue up instead of both reading "nothing applied yet".
            try:
                await self._connection.execute("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                # SQLite's thread runs a statement once queued, whoever stopped waiting
                # for it: the BEGIN still opens its transaction (once the lock is free),
                # which must end, or this connection keeps the file's write lock from
                # every process and cannot begin again. The ROLLBACK queues behind it.
                with contextlib.suppress(sqlite3.Error):  # the BEGIN failed: none to end
                    await self._connection.execute("ROLLBACK")
                raise
            try:
                yield Transaction(self._sqlite_execute, self._sqlite_fetchval)
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")

    async def _sqlite_execute(self, sql: str, *args) -> None:
        await self._connection.execute(self._sql(sql), args)

    async def _sqlite_fetchval(self, sql: str, *args):
        async with self._connection.execute(self._sql(sql), args) as cursor:
            row = await cursor.fetchone()
        return None if row is None else row[0]

    async def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Applies the statements of `component` not applied yet, in order, once."""
        async with self.transaction() as tx:
            if self.dialect == "postgresql":
                # Replicas starting together must not apply the same migration twice, nor
                # create the bookkeeping table twice (CREATE TABLE IF NOT EXISTS is not safe
                # against a concurrent one): one lock for every component's migrations.
                await tx.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATIONS_LOCK)
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " component TEXT NOT NULL, version INTEGER NOT NULL,"
                " PRIMARY KEY (component, version))"
            )
            applied = await tx.fetchval(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = $1",
                component,
            )
            for version, statement in enumerate(migrations[applied:], start=applied + 1):
                await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                    component,
                    version,
                )

    def listener(
        self,
        handlers: dict[str, Callable[[str], None]],
        on_reconnect: Callable[[], None] = lambda: None,
    ) -> Listener:
        """A `Listener` of `handlers`' channels (PostgreSQL only), not started yet."""
        if self.dialect != "postgresql":
            raise ValueError("only PostgreSQL has notifications")
        return Listener(self.url, handlers, on_reconnect)

    async def close(self, timeout: float = 5.0) -> None:
        """Closes the connections; a pooled one still in use after `timeout` (a statement
        the server never answers) is cut rather than waited for: asyncpg's close waits for
        every connection to come back, without limit."""
        if self._pool is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self._pool.close()
            except TimeoutError:
                log.warning("connections still in use at close; cut", extra={"after_s": timeout})
                self._pool.terminate()
        else:
            await self._connection.close()


class Listener:
    """Calls `handlers[channel](payload)` for each notification on its channels, from
    `start` until `stop`, on one connection of its own (LISTEN holds a session, which a
    pooled connection must not). A connection lost (PostgreSQL restarted, a network cut,
    a silent peer found by a ping) is opened again after `retry` seconds, then after
    twice as long each time it fails (up to `max_retry`), for as long as it takes; what
    was notified meanwhile is lost, so `on_reconnect` is called then, for
    the caller to look at what it may have missed."""

    def __init__(
        self,
        url: str,
        handlers: dict[str, Callable[[str], None]],
        on_reconnect: Callable[[], None] = lambda: None,
        *,
        retry: float = 0.5,
        max_retry: float = 5.0,
        ping_seconds: float = 5.0,
    ):
        self.url = url
        self.handlers = handlers
        self.on_reconnect = on_reconnect
        self.retry = retry
        self.max_retry = max_retry
        self.ping_seconds = ping_seconds
        self.pid: int | None = None  # the server process of the connection, while open
        self.listening = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="database-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _keep(self) -> None:
        import asyncpg

        connected_before = False
        pause = self.retry
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self.url, timeout=5)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                for channel, handler in self.handlers.items():
                    await connection.add_listener(channel, _deliver(handler))
                self.pid = connection.get_server_pid()
                self.listening.set()
                if connected_before:
                    log.info("listening again", extra={"channels": list(self.handlers)})
                    self.on_reconnect()
                connected_before = True
                pause = self.retry
                while not lost.is_set():
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                    # cancel that comes as its future completes, and stop() waits forever.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.ping_seconds):
                            await lost.wait()
                    if not lost.is_set():
                        await connection.fetchval("SELECT 1", timeout=self.ping_seconds)
                log.warning("listener connection closed by the server")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # OSError, asyncpg errors, TimeoutError
                log.warning(
                    "listener connection lost", extra={"error": str(error), "retry_s": pause}
                )
            finally:
                self.listening.clear()
                self.pid = None
                if connection is not None:
                    connection.terminate()
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_retry)


def _deliver(handler: Callable[[str], None]):
    def deliver(_connection, _pid, _channel, payload: str) -> None:
        try:
            handler(payload)
        except Exception:
            log.exception("a notification handler failed")

    return deliver


def refuse_unshared(url: str, replicas: int, service: str) -> None:
    """Stops a process that is to be one of several replicas (`replicas` > 1) of `service`
    on a store only one process can share (SQLite): each replica would keep its own."""
    if replicas > 1 and urlparse(url).scheme not in ("postgresql", "postgres"):
        raise SystemExit(
            f"{service}_replicas is {replicas}, but the store is not PostgreSQL: replicas"
            " share their state through the store, so set AIORCH_DATABASE_URL=postgresql://..."
            f" or run one replica (AIORCH_{service.upper()}_REPLICAS=1) on SQLite"
        )


async def _keep_session(connection) -> None:
    """What a connection does before it goes back to the pool, besides asyncpg's own
    rollback of a transaction left open: nothing. Our statements set no session state
    (no SET, LISTEN or session locks), and the default RESET ALL would cost one more round
    trip to the server for every statement."""


@contextlib.contextmanager
def _errors():
    """A database that is away or busy is UNAVAILABLE (the caller may retry); a value it
    cannot store (a NUL character in PostgreSQL text) is the request's fault."""
    try:
        yield
    except (OSError, TimeoutError) as error:
        raise Unavailable("the database is unavailable; try again") from error
    except Exception as error:
        if _is_pg(
            error,
            "PostgresConnectionError",
            "InterfaceError",
            "OperatorInterventionError",
            "InsufficientResourcesError",
            # asyncpg's state machine on a connection that a restart broke mid-call
            # ("another operation is in progress"), seen in the PostgreSQL restart drill.
            "InternalClientError",
        ):
            raise Unavailable("the database is unavailable; try again") from error
        if _is_pg(error, "DataError"):
            raise InvalidInput("", "holds a value the store cannot keep") from error
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            raise Unavailable("the database is busy; try again") from error
        raise


def _is_pg(error: Exception, *names: str) -> bool:
    module = sys.modules.get("asyncpg.exceptions")
    return module is not None and isinstance(error, tuple(getattr(module, n) for n in names))


async def _open_sqlite(path: str) -> aiosqlite.Connection:
    if path != "/:memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Autocommit: a statement outside transaction() commits by itself, and transactions
    # are begun explicitly.
    db = await aiosqlite.connect(
        ":memory:" if path == "/:memory:" else path, isolation_level=None, timeout=10
    )
    # WAL with synchronous=NORMAL: a commit costs no fsync, and only a power loss can lose
    # the last commits, never corrupt the file.
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=NORMAL")
    return db
