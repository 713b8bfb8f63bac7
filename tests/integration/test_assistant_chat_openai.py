"""Chat with the openai backend against a real OpenAI-compatible server (llama-server with
Gemma 3 270M, a tiny base model: these tests assert structure, not wisdom)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request

import grpc
import pytest

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant.__main__ import build as build_assistant
from tests.callers import channel_as
from tests.integration.conftest import start_service
from tests.integration.test_assistant_service import BUDGET, index

PRICES = {"gemma": {"input": 1.0, "output": 2.0}}


@contextlib.asynccontextmanager
async def assistant_as(suite, tmp_path, user, **changes):
    settings = suite.settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path}/aiorch.db",
            "assistant_backend": "openai",
            "openai_chat_model": "gemma",
            "prices": PRICES,
            **changes,
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        async with channel_as(settings.assistant_addr, user) as channel:
            yield assistant_pb2_grpc.AssistantServiceStub(channel)


def busy_slots(base_url: str) -> int:
    """How many of llama-server's slots are generating now."""
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/slots", timeout=5) as reply:
        return sum(1 for slot in json.load(reply) if slot.get("is_processing"))


async def test_the_model_streams_an_answer_citing_the_passages_it_was_given(
    suite, tmp_path, openai_chat_url
):
    async with assistant_as(
        suite,
        tmp_path,
        "ann",
        openai_base_url=openai_chat_url,
        assistant_max_answer_tokens=32,
    ) as ann:
        await index(ann, "budget.txt", BUDGET, "Budget")
        request = assistant_pb2.StreamChatRequest(message="What is the marketing budget?")
        replies = [reply async for reply in ann.StreamChat(request, timeout=120)]
        *deltas, last = replies
        assert deltas and all(r.WhichOneof("event") == "delta" for r in deltas)
        answer = last.answer
        assert answer.answer and "".join(r.delta for r in deltas) == answer.answer
        assert [c.source_id for c in answer.citations] == ["budget.txt"]
        assert answer.model == "openai/gemma"
        usage = answer.usage
        assert 0 < usage.output_tokens <= 32 and usage.input_tokens > 50
        history = await ann.GetSession(
            assistant_pb2.GetSessionRequest(session_id=answer.session_id), timeout=20
        )
    assert history.turns[1].text == answer.answer
    # Priced by the configured model on the model's tokens; the embedded message is free.
    assert 2 * usage.output_tokens / 1e6 < usage.cost_usd
    assert usage.cost_usd < (usage.input_tokens + 2 * usage.output_tokens) / 1e6


async def test_closing_the_stream_stops_the_model(suite, tmp_path, openai_chat_url):
    async with assistant_as(
        suite,
        tmp_path,
        "ann",
        openai_base_url=openai_chat_url,
        assistant_max_answer_tokens=2000,
    ) as ann:
        await index(ann, "budget.txt", BUDGET, "Budget")
        call = ann.StreamChat(
            assistant_pb2.StreamChatRequest(message="Write a long essay about the budget."),
            timeout=120,
        )
        first = await call.read()
        assert first.WhichOneof("event") == "delta"
        assert busy_slots(openai_chat_url) == 1
        call.cancel()
        # Left alone, the model would write for far longer (2000 tokens at most).
        for _ in range(20):
            if not busy_slots(openai_chat_url):
                break
            await asyncio.sleep(0.1)
        assert busy_slots(openai_chat_url) == 0
        listed = await ann.ListSessions(assistant_pb2.ListSessionsRequest(), timeout=20)
    assert not listed.sessions


async def test_an_unreachable_model_server_is_unavailable_before_the_stream_starts(suite, tmp_path):
    async with assistant_as(suite, tmp_path, "ann", openai_base_url="http://127.0.0.1:1/v1") as ann:
        call = ann.StreamChat(assistant_pb2.StreamChatRequest(message="hello"), timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
