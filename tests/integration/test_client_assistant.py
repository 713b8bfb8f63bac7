"""The Python client's assistant calls against real in-process servers: the suite's
embeddings service and an assistant on the test's own store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiorch_client import AsyncClient, Client, InvalidArgument, NotFound
from aiorch_client.config import SERVICES
from aiorch_client.errors import Unauthenticated

from services.assistant.__main__ import build as build_assistant

from .conftest import start_service

BUDGET = (
    "The marketing budget for next year is 2 million dollars. Most of it goes to online "
    "advertising. The finance team approved it on Tuesday."
)
HIKING = (
    "The trail to the summit takes four hours. Bring water and warm clothes, because the "
    "weather in the mountains changes fast."
)


@pytest.fixture
async def addrs(suite, database_url):
    settings = suite.settings.model_copy(update={"database_url": database_url})
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        yield {name: settings.addr_of(name) for name in SERVICES}


async def test_index_search_and_delete_act_for_the_caller(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        indexed = await ann.index_document("budget.txt", BUDGET, title="Budget")
        await ann.index_document("hike.txt", HIKING)
        assert indexed.source_id == "budget.txt" and indexed.usage.input_tokens > 0
        assert [(c.start, c.end) for c in indexed.chunks] == [(0, len(BUDGET))]

        found = await ann.search("how much can we spend on ads?", top_k=1)
        (passage,) = found.passages
        assert (passage.source_id, passage.title, passage.text) == ("budget.txt", "Budget", BUDGET)
        assert passage.owner == "ann"
        only_hike = await ann.search("how much can we spend on ads?", source_ids=["hike.txt"])
        assert {p.source_id for p in only_hike.passages} == {"hike.txt"}

        deleted = await ann.delete_document("budget.txt")
        assert deleted.chunks_deleted == len(indexed.chunks)
        after = await ann.search("how much can we spend on ads?")
        assert "budget.txt" not in {p.source_id for p in after.passages}
        with pytest.raises(NotFound) as raised:
            await ann.delete_document("budget.txt")
        assert raised.value.exit_code == 3

    # Another user neither finds nor deletes ann's documents.
    async with AsyncClient(addrs=addrs, user="bob", timeout=30) as bob:
        assert not (await bob.search("mountain trail")).passages
        with pytest.raises(NotFound):
            await bob.delete_document("hike.txt")


async def test_bad_input_and_no_caller_raise_the_clients_errors(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        with pytest.raises(InvalidArgument) as raised:
            await ann.index_document("", BUDGET)
        assert "source_id" in raised.value.field_violations
        with pytest.raises(InvalidArgument) as raised:
            await ann.search("")
        assert "query" in raised.value.field_violations
    async with AsyncClient(addrs=addrs, timeout=30) as nobody:
        with pytest.raises(Unauthenticated) as raised:
            await nobody.search("budget")
        assert raised.value.exit_code == 7


async def test_the_sync_client_indexes_searches_and_deletes(addrs):
    # The servers run on this test's event loop, so the blocking client runs in a thread.
    def use() -> tuple[list[str], int, list[str]]:
        with Client(addrs=addrs, user="cat") as client:
            client.index_document("hike.txt", HIKING, "Hike")
            before = [p.source_id for p in client.search("summit walk", top_k=3).passages]
            deleted = client.delete_document("hike.txt").chunks_deleted
            after = [p.source_id for p in client.search("summit walk").passages]
            return before, deleted, after

    before, deleted, after = await asyncio.to_thread(use)
    assert before == ["hike.txt"] and deleted >= 1 and after == []
