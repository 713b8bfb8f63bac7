"""EmbeddingsService: texts in, unit vectors out, from the local encoder."""

from __future__ import annotations

import asyncio

from aiorch.v1 import common_pb2, embeddings_pb2, embeddings_pb2_grpc
from services.common.errors import InvalidInput
from services.common.settings import Settings
from services.common.validation import require_texts
from services.embeddings.model import SentenceEncoder


class EmbeddingsServicer(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    def __init__(self, encoder: SentenceEncoder, settings: Settings):
        self.encoder = encoder
        self.settings = settings

    async def Embed(self, request, context):
        texts = require_texts(
            request.texts, "texts", self.settings.max_texts, self.settings.max_text_chars
        )
        if request.model and request.model != self.encoder.model_id:
            raise InvalidInput(
                "model", f"unknown model; this service serves {self.encoder.model_id}"
            )
        # Inference holds the CPU for milliseconds: keep it off the event loop.
        encoded = await asyncio.to_thread(self.encoder.encode, texts)
        return embeddings_pb2.EmbedResponse(
            embeddings=[
                embeddings_pb2.Embedding(values=vector.tolist(), tokens=tokens, truncated=cut)
                for vector, tokens, cut in zip(
                    encoded.vectors, encoded.tokens, encoded.truncated, strict=True
                )
            ],
            model=self.encoder.model_id,
            dimensions=self.encoder.dimensions,
            usage=common_pb2.Usage(input_tokens=sum(encoded.tokens)),
        )
