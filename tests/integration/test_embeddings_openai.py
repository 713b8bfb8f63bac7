"""EmbeddingsService with the OpenAI backend, against a real OpenAI-compatible server."""

from __future__ import annotations

import contextlib

import grpc
import numpy as np
import pytest

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.embeddings.__main__ import build

from .conftest import start_service


@pytest.fixture(scope="module")
async def stub(settings, openai_embeddings_url):
    settings = settings.model_copy(
        update={
            "embeddings_backend": "openai",
            "openai_base_url": openai_embeddings_url,
            "openai_embeddings_model": "e5-passage",
            "prices": {"e5-passage": {"input": 1.0}},
        }
    )
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("embeddings", build, settings, stack)
        async with grpc.aio.insecure_channel(settings.embeddings_addr) as channel:
            yield embeddings_pb2_grpc.EmbeddingsServiceStub(channel)


async def test_vectors_come_from_the_server_in_order_unit_length_with_usage_and_cost(stub):
    texts = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Stocks fell sharply."]
    reply = await stub.Embed(embeddings_pb2.EmbedRequest(texts=texts), timeout=30)
    vectors = np.array([e.values for e in reply.embeddings])
    assert vectors.shape == (3, reply.dimensions) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert reply.model == "e5-passage"
    assert reply.usage.input_tokens > 0
    assert reply.usage.cost_usd == pytest.approx(reply.usage.input_tokens / 1e6)


async def test_an_unreachable_server_is_unavailable_not_internal(settings):
    settings = settings.model_copy(
        update={"embeddings_backend": "openai", "openai_base_url": "http://127.0.0.1:1/v1"}
    )
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("embeddings", build, settings, stack)
        async with grpc.aio.insecure_channel(settings.embeddings_addr) as channel:
            stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Embed(embeddings_pb2.EmbedRequest(texts=["x"]), timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
