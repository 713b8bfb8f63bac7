"""The embeddings client that classifier and meeting_intel use: it waits for a restarting
embeddings service, fails fast once the service has been away too long, a call it refused
never goes out later, and it keeps within the service's limits one call at a time."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest

from services.common.channels import Link
from services.common.errors import Unavailable
from services.embeddings.__main__ import build as build_embeddings
from services.embeddings.client import EmbeddingsClient

from .conftest import start_service
from .orchestrator_fakes import FakeCapabilities, start_fakes


async def test_a_refused_call_never_reaches_the_service_once_it_is_back():
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        link = Link("embeddings", addr, fail_fast_after=0.3)
        stack.push_async_callback(link.close)
        client = EmbeddingsClient(link, max_texts=256, max_chars=1000)
        await client.embed(["ready"], timeout=5)
        await down.aclose()
        with pytest.raises(Unavailable, match="embeddings has been unreachable"):
            await client.embed(["waits, then gives up"], timeout=5)
        for _ in range(5):  # refused at once now
            with pytest.raises(Unavailable):
                await client.embed(["refused"], timeout=5)
        await start_fakes(stack, fake, addr)
        for _ in range(50):
            await asyncio.sleep(0.1)
            if link.down_since is None:
                break
        await client.embed(["back"], timeout=5)
        await asyncio.sleep(0.3)
    assert fake.calls["Embed"] == 2  # "ready" and "back"; nothing refused went out


async def test_many_texts_go_in_calls_of_the_service_limit_one_call_at_a_time():
    fake = FakeCapabilities(delay=0.02)
    async with contextlib.AsyncExitStack() as stack:
        link = Link("embeddings", await start_fakes(stack, fake), fail_fast_after=5)
        stack.push_async_callback(link.close)
        client = EmbeddingsClient(link, max_texts=4, max_chars=100)
        vectors, tokens, model = await client.embed([f"text {i}" for i in range(10)], timeout=5)
    assert vectors.shape == (10, 2) and tokens == 3 * 3 and model == "fake"
    assert fake.calls["Embed"] == 3 and fake.most_active["Embed"] == 1


async def test_a_real_service_takes_every_call_and_a_text_past_its_limit_is_cut(settings, encoder):
    limits = settings.model_copy(update={"max_texts": 4, "max_text_chars": 40})
    texts = [f"Sentence number {i} of the request." for i in range(9)]
    texts.append("A run-on sentence with no end " * 20)
    async with contextlib.AsyncExitStack() as stack:
        _, reaching = await start_service("embeddings", build_embeddings, limits, stack)
        link = Link("embeddings", reaching.embeddings_addr, fail_fast_after=5)
        stack.push_async_callback(link.close)
        client = EmbeddingsClient(link, limits.max_texts, limits.max_text_chars)
        vectors, tokens, model = await client.embed(texts, timeout=30)
    expected = encoder.encode([text[:40] for text in texts]).vectors
    assert np.allclose(vectors, expected, atol=1e-5)
    assert model == encoder.model_id and tokens > 0
