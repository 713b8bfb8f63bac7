"""The Python client's usage, agents and agent-named chats against real in-process
servers: the suite's embeddings service and a local assistant on the test's own store."""

from __future__ import annotations

import asyncio

import pytest
from aiorch_client import AsyncClient, Client
from aiorch_client.errors import PermissionDenied

from tests.integration.test_client_assistant import BUDGET
from tests.integration.test_client_chat import QUESTION, client_addrs


@pytest.fixture
async def addrs(suite, database_url):
    async with client_addrs(suite, database_url) as addrs:
        yield addrs


async def test_the_client_names_agents_and_reads_usage(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        assert "quick" in [a.name for a in await ann.list_agents()]
        await ann.index_document("budget.txt", BUDGET)
        reply = await ann.chat(QUESTION, agents=["quick"])
        events = [e async for e in ann.stream_chat(QUESTION, agents=["quick"])]
        used = await ann.usage(days=1)
    assert [a.agent for a in reply.agents] == ["quick"]
    assert events[-1].answer.agents[0].answer == reply.answer
    (day,) = used.days
    assert day.model == "local/extractive" and day.requests == 2 and used.user_id == "ann"
    async with AsyncClient(addrs=addrs, user="bob", timeout=30) as bob:
        with pytest.raises(PermissionDenied):
            await bob.usage(user_id="ann")


async def test_the_sync_client_reads_usage_and_agents(addrs):
    # The servers run on this test's event loop, so the blocking client runs in a thread.
    def use():
        with Client(addrs=addrs, user="carl", timeout=30) as client:
            before = client.usage()
            agents = client.list_agents()
            events = list(client.stream_chat("Anything?", agents=["quick"]))
            return before, agents, events, client.usage()

    before, agents, events, after = await asyncio.to_thread(use)
    assert before.days == [] and agents
    assert [a.agent for a in events[-1].answer.agents] == ["quick"]
    assert [d.requests for d in after.days] == [1]
