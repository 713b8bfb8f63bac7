"""The Python client's chat and session calls against real in-process servers: the suite's
embeddings service and an assistant on the test's own store (SQLite and PostgreSQL), with
the local extractive backend, or a failing or never-ending one for broken and closed streams."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiorch_client import AsyncClient, ChatEvent, Client, InvalidArgument, NotFound, Unavailable
from aiorch_client.config import SERVICES
from aiorch_client.types import assistant as pb

from tests.integration.test_assistant_chat import Endless, Failing, assistant
from tests.integration.test_client_assistant import BUDGET, HIKING

QUESTION = "What is the marketing budget for next year?"


@contextlib.asynccontextmanager
async def client_addrs(suite, database_url, backend=None):
    """Where the client finds each service: the suite's, and an assistant of this test's."""
    async with assistant(suite, database_url, backend) as addr:
        yield {name: suite.settings.addr_of(name) for name in SERVICES} | {"assistant": addr}


@pytest.fixture
async def addrs(suite, database_url):
    async with client_addrs(suite, database_url) as addrs:
        yield addrs


async def test_a_streamed_answer_comes_in_pieces_then_whole_with_citations_and_a_session(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        await ann.index_document("budget.txt", BUDGET, title="Budget")
        await ann.index_document("hike.txt", HIKING)
        events = [event async for event in ann.stream_chat(QUESTION)]
        *pieces, last = events
        assert len(pieces) > 3 and all(e.delta and e.answer is None for e in pieces)
        answer = last.answer
        assert answer is not None and last.delta == ""
        assert "".join(e.delta for e in pieces) == answer.answer
        assert "2 million dollars" in answer.answer and "[1]" in answer.answer
        best = answer.citations[0]
        assert (best.source_id, best.title) == ("budget.txt", "Budget") and 0 < best.score <= 1
        assert answer.usage.input_tokens > 0 and answer.session_id

        # The session continues with the unary call, and only from the documents asked for.
        again = await ann.chat("And the hike?", answer.session_id, source_ids=["hike.txt"])
        assert again.session_id == answer.session_id
        assert {c.source_id for c in again.citations} == {"hike.txt"}

        (session,) = await ann.list_sessions()
        assert (session.session_id, session.turns, session.title) == (
            answer.session_id,
            4,
            QUESTION,
        )
        history = await ann.get_session(answer.session_id)
        assert [t.role for t in history.turns] == [pb.ROLE_USER, pb.ROLE_ASSISTANT] * 2
        assert history.turns[1].text == answer.answer
        assert history.turns[1].citations[0].source_id == "budget.txt"

        deleted = await ann.delete_session(answer.session_id)
        assert deleted.turns_deleted == 4 and await ann.list_sessions() == []
        with pytest.raises(NotFound) as gone:
            await ann.get_session(answer.session_id)
        assert gone.value.exit_code == 3


async def test_sessions_belong_to_their_creator(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        created = await ann.create_session("Plans")
        assert created.title == "Plans" and created.turns == 0 and created.session_id
        reply = await ann.chat("Anything?", created.session_id)
        assert reply.session_id == created.session_id
    async with AsyncClient(addrs=addrs, user="bob", timeout=30) as bob:
        assert await bob.list_sessions() == []
        for call in (
            bob.chat("hi", created.session_id),
            bob.get_session(created.session_id),
            bob.delete_session(created.session_id),
        ):
            with pytest.raises(NotFound):
                await call
        with pytest.raises(NotFound):  # a stream that fails before its first event
            async for _ in bob.stream_chat("hi", created.session_id):
                pass


async def test_bad_input_raises_invalid_argument_naming_the_field(addrs):
    async with AsyncClient(addrs=addrs, user="ann", timeout=30) as ann:
        with pytest.raises(InvalidArgument) as refused:
            await ann.chat(" ")
        assert "message" in refused.value.field_violations
        with pytest.raises(InvalidArgument) as refused:
            async for _ in ann.stream_chat("q", top_k=21):
                pass
        assert "top_k" in refused.value.field_violations
        with pytest.raises(InvalidArgument) as refused:
            await ann.list_sessions(page_size=-1)
        assert "page_size" in refused.value.field_violations


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failure_mid_stream_raises_the_clients_error_after_the_pieces_sent(
    suite, database_url
):
    async with (
        client_addrs(suite, database_url, Failing()) as addrs,
        AsyncClient(addrs=addrs, user="ann", timeout=30) as ann,
    ):
        received: list[ChatEvent] = []
        with pytest.raises(Unavailable) as failed:
            async for event in ann.stream_chat("why?"):
                received.append(event)
        assert [e.delta for e in received] == ["The answer ", "is "]
        assert "did not answer" in failed.value.message and failed.value.exit_code == 4
        with pytest.raises(Unavailable):
            await ann.chat("why?")
        assert await ann.list_sessions() == []  # nothing stored of a chat that failed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_leaving_the_stream_cancels_the_call(suite, database_url):
    backend = Endless()
    async with (
        client_addrs(suite, database_url, backend) as addrs,
        AsyncClient(addrs=addrs, user="ann", timeout=30) as ann,
    ):
        async for event in ann.stream_chat("why?"):
            assert event.delta == "Thinking"
            break
        await asyncio.wait_for(backend.cancelled.wait(), 5)

        backend.cancelled.clear()
        async with contextlib.aclosing(ann.stream_chat("why?")) as events:
            assert (await anext(events)).delta == "Thinking"
        await asyncio.wait_for(backend.cancelled.wait(), 5)

        # The blocking client: breaking out of the loop closes the iterator at once.
        backend.cancelled.clear()

        def first_piece() -> str:
            with Client(addrs=addrs, user="ann", timeout=30) as client:
                for event in client.stream_chat("why?"):
                    return event.delta
            return ""

        assert await asyncio.to_thread(first_piece) == "Thinking"
        await asyncio.wait_for(backend.cancelled.wait(), 5)
        assert await ann.list_sessions() == []


async def test_the_sync_client_streams_chats_and_keeps_sessions(addrs):
    # The servers run on this test's event loop, so the blocking client runs in a thread.
    def use() -> tuple[list[ChatEvent], pb.ChatResponse, list[pb.Session], int]:
        with Client(addrs=addrs, user="cat") as client:
            client.index_document("budget.txt", BUDGET, "Budget")
            session = client.create_session()
            events = list(client.stream_chat(QUESTION, session.session_id, top_k=1))
            reply = client.chat("Which team approved the marketing budget?", session.session_id)
            listed = client.list_sessions()
            turns = len(client.get_session(session.session_id).turns)
            assert client.delete_session(session.session_id).turns_deleted == turns
            return events, reply, listed, turns

    events, reply, listed, turns = await asyncio.to_thread(use)
    answer = events[-1].answer
    assert answer is not None and "".join(e.delta for e in events[:-1]) == answer.answer
    assert [c.source_id for c in answer.citations] == ["budget.txt"]
    assert reply.session_id == answer.session_id and "[1]" in reply.answer
    assert [s.session_id for s in listed] == [answer.session_id] and turns == 4
