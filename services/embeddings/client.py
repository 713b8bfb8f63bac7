"""Calls EmbeddingsService and hands back numpy arrays, for services that embed text."""

from __future__ import annotations

import grpc
import numpy as np

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc


class EmbeddingsClient:
    def __init__(self, channel: grpc.aio.Channel):
        self.stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)

    async def embed(self, texts: list[str], timeout: float | None = None):
        """Unit vectors of `texts` ((n, dimensions) float32), tokens read, model id."""
        reply = await self.stub.Embed(embeddings_pb2.EmbedRequest(texts=texts), timeout=timeout)
        vectors = np.array([e.values for e in reply.embeddings], dtype=np.float32)
        return vectors, reply.usage.input_tokens, reply.model
