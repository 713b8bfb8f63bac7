"""Calls EmbeddingsService and hands back numpy arrays, for services that embed text."""

from __future__ import annotations

import numpy as np

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.channels import Link


class EmbeddingsClient:
    def __init__(self, link: Link):
        self.link = link
        self.stub = embeddings_pb2_grpc.EmbeddingsServiceStub(link.channel)

    async def embed(self, texts: list[str], timeout: float | None = None):
        """Unit vectors of `texts` ((n, dimensions) float32), tokens read, model id.

        Raises Unavailable at once when the embeddings service has been out of reach for
        a while; a shorter outage is waited for within `timeout`."""
        call = self.stub.Embed(embeddings_pb2.EmbedRequest(texts=texts), timeout=timeout)
        reply = await self.link.call(call)
        vectors = np.array([e.values for e in reply.embeddings], dtype=np.float32)
        return vectors, reply.usage.input_tokens, reply.model
