"""EmbeddingsService: texts in, unit vectors out, from the configured backend."""

from __future__ import annotations

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.deadlines import call_timeout
from services.common.errors import InvalidInput
from services.common.settings import Settings
from services.common.validation import require_texts


class EmbeddingsServicer(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    def __init__(self, backend, settings: Settings):
        self.backend = backend  # LocalBackend or OpenAIBackend (backends.py)
        self.settings = settings

    async def Embed(self, request, context):
        texts = require_texts(
            request.texts, "texts", self.settings.max_texts, self.settings.max_text_chars
        )
        if request.model and request.model != self.backend.model_id:
            raise InvalidInput("model", f"unknown model; served: {self.backend.model_id}")
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        encoded, usage = await self.backend.embed(texts, timeout)
        return embeddings_pb2.EmbedResponse(
            embeddings=[
                embeddings_pb2.Embedding(values=vector.tolist(), tokens=tokens, truncated=cut)
                for vector, tokens, cut in zip(
                    encoded.vectors, encoded.tokens, encoded.truncated, strict=True
                )
            ],
            model=self.backend.model_id,
            dimensions=encoded.vectors.shape[1],
            usage=usage.to_proto(),
        )
