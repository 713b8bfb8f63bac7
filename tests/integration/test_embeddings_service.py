"""EmbeddingsService through gRPC, served by pytest-grpc-aio's server, its handlers wrapped in
our error mapping."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from grpc_status import rpc_status

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.errors import field_violations
from services.common.handlers import Registrar, errors
from services.embeddings.backends import LocalBackend
from services.embeddings.servicer import EmbeddingsServicer


@pytest.fixture
def grpc_add_to_server():
    def add(servicer, server):
        registrar = Registrar(server, lambda method, handler: errors(handler))
        embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server(servicer, registrar)

    return add


@pytest.fixture
def grpc_servicer(encoder, settings):
    return EmbeddingsServicer(LocalBackend(encoder, settings), settings)


@pytest.fixture
def grpc_stub_cls():
    return embeddings_pb2_grpc.EmbeddingsServiceStub


async def test_embed_returns_a_unit_vector_per_text_in_order(grpc_aio_stub, encoder):
    texts = ["The cat sat on the mat.", "Stocks rallied on Friday."]
    async with grpc_aio_stub() as stub:
        reply = await stub.Embed(embeddings_pb2.EmbedRequest(texts=texts), timeout=10)
    vectors = np.array([e.values for e in reply.embeddings])
    assert reply.dimensions == 384 and reply.model == encoder.model_id
    assert np.allclose(vectors, encoder.encode(texts).vectors, atol=1e-6)
    assert reply.usage.input_tokens == sum(e.tokens for e in reply.embeddings) > 0


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (embeddings_pb2.EmbedRequest(), "texts"),
        (embeddings_pb2.EmbedRequest(texts=["ok", " "]), "texts[1]"),
        (embeddings_pb2.EmbedRequest(texts=["x" * 100_001]), "texts[0]"),
        (embeddings_pb2.EmbedRequest(texts=["ok"] * 257), "texts"),
        (embeddings_pb2.EmbedRequest(texts=["ok"], model="gpt-9"), "model"),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(grpc_aio_stub, request_, field):
    async with grpc_aio_stub() as stub:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Embed(request_, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(caught.value))
