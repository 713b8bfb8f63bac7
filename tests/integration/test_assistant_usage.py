"""Usage analytics and daily token budgets through gRPC: in-process assistant servers on
port 0 over the suite's embeddings service; the strong model is a real OpenAI-compatible
server (llama-server with Gemma 3 270M), the local backend needs none."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant.__main__ import build as build_assistant
from services.assistant.settings import AssistantSettings
from tests.callers import channel_as
from tests.integration.conftest import start_service
from tests.integration.test_assistant_service import BUDGET, index

QUESTION = "What is the marketing budget?"


def assistant_settings(suite, **changes) -> AssistantSettings:
    """The suite's settings (its embeddings address) with the assistant's own."""
    return AssistantSettings(**(suite.settings.model_dump() | changes))


@contextlib.asynccontextmanager
async def assistant(settings: AssistantSettings):
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        yield settings.assistant_addr


@contextlib.asynccontextmanager
async def stub_as(addr, user, roles=()):
    async with channel_as(addr, user, roles) as channel:
        yield assistant_pb2_grpc.AssistantServiceStub(channel)


async def test_local_answers_are_counted_per_day_and_read_by_their_user_or_an_admin(
    suite, database_url
):
    settings = assistant_settings(suite, database_url=database_url)
    async with assistant(settings) as addr:
        async with stub_as(addr, "ann") as ann:
            await index(ann, "budget.txt", BUDGET)
            for _ in range(2):
                await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION), timeout=20)
            mine = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
        async with stub_as(addr, "bob") as bob:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await bob.GetUsage(assistant_pb2.GetUsageRequest(user_id="ann"), timeout=20)
            own = await bob.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
        async with stub_as(addr, "root", ("admin",)) as admin:
            theirs = await admin.GetUsage(
                assistant_pb2.GetUsageRequest(user_id="ann", days=1), timeout=20
            )
    assert mine.user_id == "ann" and mine.last_day >= mine.first_day
    (day,) = mine.days
    assert day.day == mine.last_day and day.model == "local/extractive"
    assert day.requests == 2 and day.embedding_tokens > 0
    # The extractive backend runs no model: no model tokens, no cost, no budget spent.
    assert day.input_tokens == day.output_tokens == 0 and day.cost_usd == 0
    assert mine.tokens_today == 0 and mine.daily_token_budget == 0
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert own.user_id == "bob" and not own.days
    assert theirs.days == mine.days


async def test_a_spent_budget_refuses_the_model_before_it_is_called_but_not_local_answers(
    suite, tmp_path, openai_chat_url
):
    changes = {
        "database_url": f"sqlite:///{tmp_path}/aiorch.db",
        "assistant_daily_token_budget": 50,
        "openai_base_url": openai_chat_url,
        "openai_chat_model": "gemma",
        "assistant_max_answer_tokens": 8,
        "prices": {"gemma": {"input": 1.0, "output": 2.0}},
    }
    strong = assistant_settings(suite, assistant_backend="openai", **changes)
    async with assistant(strong) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        first = await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION), timeout=120)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION), timeout=120)
        streamed = ann.StreamChat(assistant_pb2.StreamChatRequest(message=QUESTION), timeout=120)
        with pytest.raises(grpc.aio.AioRpcError) as refused_stream:
            async for _ in streamed:
                pass
        used = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
    # The model's prompt alone is over 50 tokens: one answer spends the day's budget.
    spent = first.usage.input_tokens + first.usage.output_tokens
    (day,) = used.days
    assert day.model == "openai/gemma" and day.requests == 1
    assert day.input_tokens + day.output_tokens + day.embedding_tokens == spent
    assert day.input_tokens + day.output_tokens == used.tokens_today > 50
    assert day.cost_usd == pytest.approx(first.usage.cost_usd)
    assert used.daily_token_budget == 50

    error = refused.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "daily token budget spent" in error.details() and "00:00 UTC" in error.details()
    trailers = dict(error.trailing_metadata())
    assert 1 <= int(trailers["retry-after"]) <= 86400
    assert trailers["grpc-retry-pushback-ms"] == "-1"  # a gRPC client does not retry it
    retry, quota = error_details_pb2.RetryInfo(), error_details_pb2.QuotaFailure()
    details = rpc_status.from_call(error).details
    assert any(d.Unpack(retry) for d in details) and 0 < retry.retry_delay.seconds <= 86400
    # The quota is this user's, not the service's: the orchestrator's breaker tells them apart.
    assert any(d.Unpack(quota) for d in details) and quota.violations[0].subject
    assert refused_stream.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(listed.sessions) == 1  # the refused chats stored nothing

    # The same user, the same store and budget: the local backend still answers.
    local = assistant_settings(suite, assistant_backend="local", **changes)
    async with assistant(local) as addr, stub_as(addr, "ann") as ann:
        answered = await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION), timeout=20)
        used = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
    assert answered.model == "local/extractive" and "2 million" in answered.answer
    assert {d.model: d.requests for d in used.days} == {"openai/gemma": 1, "local/extractive": 1}


async def test_an_answer_cut_short_still_counts_what_the_model_read_and_wrote(
    suite, tmp_path, openai_chat_url
):
    changes = {
        "database_url": f"sqlite:///{tmp_path}/aiorch.db",
        "openai_base_url": openai_chat_url,
        "openai_chat_model": "gemma",
        "assistant_max_answer_tokens": 2000,
    }
    strong = assistant_settings(suite, assistant_backend="openai", **changes)
    async with assistant(strong) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        call = ann.StreamChat(
            assistant_pb2.StreamChatRequest(message="Write a long essay about the budget."),
            timeout=120,
        )
        assert (await call.read()).WhichOneof("event") == "delta"
        call.cancel()  # before the model's own count, which comes last
        for _ in range(50):
            used = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
            if used.days:
                break
            await asyncio.sleep(0.1)
    # Else cancelling near the end of each answer would spend model tokens without limit.
    (day,) = used.days
    assert day.model == "openai/gemma" and day.requests == 1
    assert day.input_tokens > 50 and day.output_tokens >= 1
    assert used.tokens_today == day.input_tokens + day.output_tokens
