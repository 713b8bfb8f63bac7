"""PostgreSQL notifications reach a Listener, and keep reaching it after its connection
was cut (as a server restart cuts it)."""

from __future__ import annotations

import asyncio
import uuid

from services.common.database import Database


async def _soon(condition, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


async def test_a_listener_whose_connection_is_cut_listens_again(postgres_url):
    channel = f"test_{uuid.uuid4().hex[:12]}"
    db = await Database.open(postgres_url)
    heard: list[str] = []
    reconnects: list[bool] = []
    listener = db.listener({channel: heard.append}, on_reconnect=lambda: reconnects.append(True))
    listener.retry = 0.1
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        await db.execute("SELECT pg_notify($1, $2)", channel, "one")
        await _soon(lambda: heard == ["one"])
        first = listener.pid
        assert reconnects == []
        await db.execute("SELECT pg_terminate_backend($1)", first)
        await _soon(lambda: listener.pid not in (None, first))
        assert reconnects == [True]  # told: what was notified while away is lost
        await db.execute("SELECT pg_notify($1, $2)", channel, "two")
        await _soon(lambda: heard == ["one", "two"])
    finally:
        await listener.stop()
        await db.close()
