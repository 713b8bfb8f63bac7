"""The embeddings client that classifier and meeting_intel use: it waits for a restarting
embeddings service, fails fast once the service has been away too long, and a call it
refused never goes out later."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.common.channels import Link
from services.common.errors import Unavailable
from services.embeddings.client import EmbeddingsClient

from .orchestrator_fakes import FakeCapabilities, start_fakes


async def test_a_refused_call_never_reaches_the_service_once_it_is_back():
    fake = FakeCapabilities()
    async with contextlib.AsyncExitStack() as stack:
        down = contextlib.AsyncExitStack()
        addr = await start_fakes(down, fake)
        link = Link("embeddings", addr, fail_fast_after=0.3)
        stack.push_async_callback(link.close)
        client = EmbeddingsClient(link)
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
