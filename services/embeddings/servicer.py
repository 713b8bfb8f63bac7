"""EmbeddingsService: texts in, unit vectors out, from the configured backend."""

from __future__ import annotations

import grpc

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.deadlines import call_timeout
from services.common.errors import InvalidInput
from services.common.validation import require_texts
from services.embeddings import messages
from services.embeddings.backends import Backend
from services.embeddings.settings import EmbeddingsSettings


class EmbeddingsServicer(embeddings_pb2_grpc.EmbeddingsServiceServicer):
    def __init__(self, backend: Backend, settings: EmbeddingsSettings):
        self.backend = backend
        self.settings = settings

    async def Embed(
        self, request: embeddings_pb2.EmbedRequest, context: grpc.aio.ServicerContext
    ) -> embeddings_pb2.EmbedResponse:
        texts = require_texts(
            request.texts, "texts", self.settings.max_texts, self.settings.max_text_chars
        )
        if request.model and request.model != self.backend.model_id:
            raise InvalidInput("model", f"unknown model; served: {self.backend.model_id}")
        timeout = call_timeout(context, self.settings.deadline_margin_seconds)
        encoded, usage = await self.backend.embed(texts, timeout)
        return messages.embed_response(encoded, usage, self.backend.model_id)
