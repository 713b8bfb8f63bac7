"""Chat over the caller's documents through gRPC: in-process embeddings and assistant
servers on port 0 with the local (extractive) backend, sessions on SQLite and PostgreSQL;
a failing and a never-ending backend for what a stream does when it breaks or is closed."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant.__main__ import build as build_assistant
from services.assistant.backends import NOTHING_FOUND
from services.common.errors import Unavailable, field_violations
from tests.callers import channel_as
from tests.integration.conftest import start_service
from tests.integration.test_assistant_service import BUDGET, HIKING, index


@contextlib.asynccontextmanager
async def assistant(suite, database_url, backend=None):
    """An assistant on the test's own store; `backend` replaces the configured one."""
    settings = suite.settings.model_copy(update={"database_url": database_url})

    async def build(settings, stack):
        services = await build_assistant(settings, stack)
        if backend is not None:
            services[0].servicer.backend = backend
        return services

    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build, settings, stack)
        yield settings.assistant_addr


@pytest.fixture
async def assistant_addr(suite, database_url):
    async with assistant(suite, database_url) as addr:
        yield addr


@contextlib.asynccontextmanager
async def assistant_as(addr, user, roles=()):
    async with channel_as(addr, user, roles) as channel:
        yield assistant_pb2_grpc.AssistantServiceStub(channel)


async def stream(stub, message, **fields):
    request = assistant_pb2.StreamChatRequest(message=message, **fields)
    return [reply async for reply in stub.StreamChat(request, timeout=20)]


async def test_a_streamed_answer_quotes_and_cites_the_best_passage_in_a_new_session(
    assistant_addr,
):
    async with assistant_as(assistant_addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET, "Budget")
        await index(ann, "hike.txt", HIKING)
        replies = await stream(ann, "What is the marketing budget for next year?")
        *deltas, last = replies
        assert len(deltas) > 3 and all(r.WhichOneof("event") == "delta" for r in deltas)
        answer = last.answer
        assert "".join(r.delta for r in deltas) == answer.answer
        assert "2 million dollars" in answer.answer and "[1]" in answer.answer
        best = answer.citations[0]
        assert best.source_id == "budget.txt" and best.title == "Budget"
        assert BUDGET[best.start : best.end] == best.passage and 0 < best.score <= 1
        assert answer.model == "local/extractive" and answer.usage.input_tokens > 0

        again = await ann.Chat(
            assistant_pb2.ChatRequest(session_id=answer.session_id, message="And the hike?"),
            timeout=20,
        )
        assert again.session_id == answer.session_id
        assert again.citations[0].source_id == "hike.txt"
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
        (session,) = listed.sessions
        assert session.session_id == answer.session_id and session.turns == 4
        assert session.title == "What is the marketing budget for next year?"
        history = await ann.GetSession(
            assistant_pb2.GetSessionRequest(session_id=answer.session_id), timeout=20
        )
    roles = [t.role for t in history.turns]
    assert roles == [assistant_pb2.ROLE_USER, assistant_pb2.ROLE_ASSISTANT] * 2
    assert history.turns[1].text == answer.answer
    assert history.turns[1].citations[0].source_id == "budget.txt"


async def test_a_question_the_documents_do_not_answer_cites_nothing(assistant_addr):
    async with assistant_as(assistant_addr, "ann") as ann:
        await index(ann, "hike.txt", HIKING)
        reply = await ann.Chat(
            assistant_pb2.ChatRequest(message="What is the capital of quantum tax law?"),
            timeout=20,
        )
    assert reply.answer == NOTHING_FOUND and not reply.citations


async def test_sessions_are_their_owners_only_read_by_admins_and_deleted_by_owners(assistant_addr):
    async with assistant_as(assistant_addr, "ann") as ann:
        created = await ann.CreateSession(
            assistant_pb2.CreateSessionRequest(title="Plans"), timeout=20
        )
        session_id = created.session.session_id
        await ann.Chat(
            assistant_pb2.ChatRequest(session_id=session_id, message="Anything?"), timeout=20
        )
    async with assistant_as(assistant_addr, "bob") as bob:
        for call in (
            bob.Chat(assistant_pb2.ChatRequest(session_id=session_id, message="hi"), timeout=20),
            bob.GetSession(assistant_pb2.GetSessionRequest(session_id=session_id), timeout=20),
            bob.DeleteSession(
                assistant_pb2.DeleteSessionRequest(session_id=session_id), timeout=20
            ),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await bob.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
        assert not listed.sessions
    async with assistant_as(assistant_addr, "root", ("admin",)) as admin:  # admins see all
        seen = await admin.GetSession(
            assistant_pb2.GetSessionRequest(session_id=session_id), timeout=20
        )
        assert [t.text for t in seen.turns][:1] == ["Anything?"]
    async with assistant_as(assistant_addr, "ann") as ann:
        deleted = await ann.DeleteSession(
            assistant_pb2.DeleteSessionRequest(session_id=session_id), timeout=20
        )
        assert deleted.turns_deleted == 2
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
        assert not listed.sessions
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await ann.Chat(
                assistant_pb2.ChatRequest(session_id=session_id, message="hi"), timeout=20
            )
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND


LONG = "why " * 2000


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("Chat", assistant_pb2.ChatRequest(message=" "), "message"),
        ("Chat", assistant_pb2.ChatRequest(message=LONG), "message"),
        ("Chat", assistant_pb2.ChatRequest(message="q", top_k=21), "top_k"),
        ("Chat", assistant_pb2.ChatRequest(message="q", session_id="s" * 65), "session_id"),
        ("StreamChat", assistant_pb2.StreamChatRequest(message=LONG), "message"),
        ("CreateSession", assistant_pb2.CreateSessionRequest(title=LONG), "title"),
        ("ListSessions", assistant_pb2.ListSessionsRequest(page_size=-1), "page_size"),
        ("GetSession", assistant_pb2.GetSessionRequest(), "session_id"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field_without_echoing_it(
    assistant_addr, rpc, request_, field
):
    async with assistant_as(assistant_addr, "ann") as ann:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            call = getattr(ann, rpc)(request_, timeout=20)
            if rpc == "StreamChat":
                async for _ in call:
                    pass
            else:
                await call
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(refused.value))
    assert "why why" not in refused.value.details()


class Failing:
    """Writes two pieces, then loses its model server."""

    model = "test/failing"
    metered = True

    async def answer(self, question, history, passages, reply, timeout):
        yield "The answer "
        yield "is "
        raise Unavailable("the model server did not answer")

    async def close(self):
        pass


class Endless:
    """Writes one piece, then waits for a model that never finishes."""

    model = "test/endless"
    metered = True

    def __init__(self):
        self.cancelled = asyncio.Event()

    async def answer(self, question, history, passages, reply, timeout):
        yield "Thinking"
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    async def close(self):
        pass


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failure_mid_stream_is_a_last_error_message_and_the_stream_status(
    suite, database_url
):
    async with assistant(suite, database_url, Failing()) as addr, assistant_as(addr, "ann") as ann:
        call = ann.StreamChat(assistant_pb2.StreamChatRequest(message="why?"), timeout=20)
        received = []
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            async for reply in call:
                received.append(reply)
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
    assert [r.WhichOneof("event") for r in received] == ["delta", "delta", "error"]
    assert received[-1].error.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert "did not answer" in received[-1].error.message
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert not listed.sessions  # nothing stored of a chat that failed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_closing_the_stream_cancels_the_backend_and_stores_nothing(suite, database_url):
    backend = Endless()
    async with assistant(suite, database_url, backend) as addr, assistant_as(addr, "ann") as ann:
        call = ann.StreamChat(assistant_pb2.StreamChatRequest(message="why?"), timeout=20)
        first = await call.read()
        assert first.delta == "Thinking"
        call.cancel()
        await asyncio.wait_for(backend.cancelled.wait(), 5)
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
    assert not listed.sessions
