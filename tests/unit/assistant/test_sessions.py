"""Chat sessions over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from services.assistant.sessions import ASSISTANT, USER, Cited, SessionStore, Turn
from services.common.database import Database

CITED = Cited("budget.txt", 0, 0.5, "The budget is 2 million.", "Budget", 0, 24)


@pytest.fixture
async def sessions(database_url):
    db = await Database.open(database_url)
    yield await SessionStore.open(db)
    await db.close()


def exchange(question: str, answer: str) -> list[Turn]:
    return [Turn(USER, question), Turn(ASSISTANT, answer, [CITED])]


async def test_a_first_exchange_starts_the_session_named_by_its_message(sessions):
    stored = await sessions.append("ann", "s1", "What is the budget?", exchange("Q", "A [1]"))
    assert stored is not None and stored.turns == 2 and stored.title == "What is the budget?"
    await sessions.append("ann", "s1", "ignored", exchange("Q2", "A2"))
    history = await sessions.history("s1")
    assert [(t.role, t.text) for t in history] == [
        (USER, "Q"),
        (ASSISTANT, "A [1]"),
        (USER, "Q2"),
        (ASSISTANT, "A2"),
    ]
    assert history[1].citations == [CITED] and history[0].citations == []
    assert [t.text for t in await sessions.history("s1", last=2)] == ["Q2", "A2"]
    assert (await sessions.get("ann", "s1")).title == "What is the budget?"


async def test_a_session_is_its_owners_alone(sessions):
    await sessions.create("ann", "Plans", "s1")
    assert await sessions.get("bob", "s1") is None
    assert await sessions.append("bob", "s1", "x", exchange("Q", "A")) is None
    assert await sessions.delete("bob", "s1") is None
    assert await sessions.history("s1") == []
    assert await sessions.recent("bob", 10) == []


async def test_sessions_are_listed_most_recently_used_first_and_deleted_with_their_turns(
    sessions,
):
    await sessions.create("ann", "old", "s1")
    await sessions.create("ann", "new", "s2")
    await sessions.append("ann", "s1", "", exchange("Q", "A"))
    assert [s.session_id for s in await sessions.recent("ann", 10)] == ["s1", "s2"]
    assert [s.session_id for s in await sessions.recent("ann", 1)] == ["s1"]
    assert await sessions.delete("ann", "s1") == 2
    assert await sessions.history("s1") == []
    assert [s.session_id for s in await sessions.recent("ann", 10)] == ["s2"]


async def test_exchanges_at_once_in_one_session_are_all_kept_in_turn(sessions):
    # Two tabs, a double submit: each exchange numbers its turns after the others'.
    await sessions.append("ann", "s1", "First", exchange("Q0", "A0"))
    stored = await asyncio.gather(
        *(sessions.append("ann", "s1", "", exchange(f"Q{n}", f"A{n}")) for n in range(1, 6))
    )
    assert all(s is not None for s in stored)
    history = await sessions.history("s1")
    assert len(history) == 12
    pairs = [(history[i].text, history[i + 1].text) for i in range(0, 12, 2)]
    assert sorted(pairs) == [(f"Q{n}", f"A{n}") for n in range(6)]  # each answer after its question
