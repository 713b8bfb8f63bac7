"""Replies of EmbeddingsService, built from what the backend computed."""

from __future__ import annotations

from aiorch.v1 import embeddings_pb2
from services.common import llm
from services.embeddings.model import Encoded


def embed_response(encoded: Encoded, usage: llm.Usage, model: str) -> embeddings_pb2.EmbedResponse:
    return embeddings_pb2.EmbedResponse(
        embeddings=[
            embeddings_pb2.Embedding(values=vector.tolist(), tokens=tokens, truncated=cut)
            for vector, tokens, cut in zip(
                encoded.vectors, encoded.tokens, encoded.truncated, strict=True
            )
        ],
        model=model,
        dimensions=encoded.vectors.shape[1],
        usage=usage.to_proto(),
    )
